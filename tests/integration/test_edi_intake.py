"""X12 850s through the intake desk on SQLite and PostgreSQL: orders once per set, 997 and 855 back,
problems named with the segment, corrupt interchanges refused with the segment index."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.http import create_api
from engine.adapters import tables as t
from engine.bootstrap import App, bootstrap
from engine.domain import commands as c
from engine.domain.channels import ChannelKind
from engine.domain.customers import Tier
from engine.intake.x12_850 import read_purchase_orders
from engine.intake.x12_out import InvoiceItem, ShippedItem, invoice, ship_notice
from engine.intake.x12_reader import read_x12
from tests.auth import headers
from tests.integration.helpers import StepClock
from tests.integration.test_routing_service import build


def interchange(control: str = "000000101", po: str = "LHS-4410", price: str = "18.00", unit: str = "EA",
                pack: str = "", sets: int = 1, wanted: str = "20300110") -> bytes:
    body = []
    for n in range(1, sets + 1):
        st = f"{n:04d}"
        segments = [f"ST*850*{st}", f"BEG*00*SA*{po}-{n}**20300101", f"DTM*002*{wanted}",
                    "N1*ST*Lakeshore Home Supply*92*0042", "N3*233 S Wacker Dr", "N4*Chicago*IL*60606*US",
                    f"PO1*1*12*{unit}*{price}**VP*SKU-A*BP*LK-77", "PID*F****Walnut tray",
                    *([f"PO4*{pack}"] if pack else []), "PO1*2*3*EA*7.50**VP*SKU-B", "CTT*2"]
        body += [*segments, f"SE*{len(segments) + 1}*{st}"]
    return ("ISA*00*          *00*          *ZZ*LAKESHORE      *ZZ*ORDERLOOM      *300101*0900*U*00401*"
            f"{control}*0*P*>~\n" + "GS*PO*LAKESHORE*ORDERLOOM*20300101*0900*77*X*004010~\n"
            + "~\n".join(body) + f"~\nGE*{sets}*77~\nIEA*1*{control}~\n").encode()


@pytest.fixture
def edi_app(database_url: str) -> Iterator[App]:
    app = bootstrap(database_url=database_url, migrate=False, clock=StepClock())
    build(app.bus, stock={("SKU-A", "DC-EAST"): 50, ("SKU-B", "DC-EAST"): 20})
    app.bus.handle(c.UpsertChannel(code="b2b_edi", name="EDI", kind=ChannelKind.B2B_EDI, priority=True))
    app.bus.handle(c.UpsertLanes(lanes=(("CAR", "ground", "DC-EAST", "606", 8, 5, 0.95),)))
    app.bus.handle(c.UpsertPriceList(code="PL-LAKE", currency="USD",
                                     prices={"SKU-A": Decimal("18.00"), "SKU-B": Decimal("7.50")}))
    app.bus.handle(c.UpsertAccount(code="ACC-LAKE", name="Lakeshore", tier=Tier.GOLD, price_list_code="PL-LAKE",
                                   credit_limit=Decimal("50000"), edi_partner_id="LAKESHORE"))
    yield app
    app.close()


def orders(app: App) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.orders)).scalar_one())


def test_an_850_becomes_a_routed_order_with_997_and_855_once(edi_app: App) -> None:
    result = edi_app.edi.receive(interchange())
    [placed] = result.orders
    assert placed["status"] == "accepted" and placed["order_status"] == "allocated" and placed["touchless"]
    with edi_app.uow(readonly=True) as uow:
        order = uow.orders.get(placed["order_id"])
    assert order is not None and order.account_code == "ACC-LAKE" and order.external_id == "LHS-4410-1"
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("SKU-A", 12), ("SKU-B", 3)]
    ack997, ack855 = result.acknowledgements
    assert "AK5*A" in ack997 and "AK9*A*1*1*1" in ack997
    assert "BAK*00*AD*LHS-4410-1" in ack855 and ack855.count("ACK*IA") == 2
    # Shipped Tuesday Jan 1 before the cutoff, 5 carrier days (Monday to Saturday): Monday Jan 7.
    assert "ACK*IA*12*EA*068*20300107" in ack855
    for text in (ack997, ack855):  # our own output passes our reader's envelope checks
        assert read_x12(text).rejections == []
    again = edi_app.edi.receive(interchange())
    assert again.orders[0]["duplicate"] and again.orders[0]["order_id"] == placed["order_id"] and orders(edi_app) == 1


def test_a_price_or_unit_problem_waits_for_review_naming_the_line(edi_app: App) -> None:
    result = edi_app.edi.receive(interchange(control="000000102", price="9.00", unit="CA"))
    [doc] = result.orders
    assert doc["status"] == "needs_review" and orders(edi_app) == 0
    fields = {(p["code"], p["field"]) for p in doc["problems"]}
    assert ("unit.unconverted", "lines[0].unit") in fields
    assert len(result.acknowledgements) == 1  # the 997 only: the 855 follows the review


def test_a_case_with_a_pack_size_converts_to_units(edi_app: App) -> None:
    raw = interchange(control="000000103", unit="CA", price="216.00", pack="12")
    [doc] = edi_app.edi.receive(raw).orders
    assert doc["status"] == "accepted", doc["problems"]
    with edi_app.uow(readonly=True) as uow:
        order = uow.orders.get(doc["order_id"])
    assert order is not None and order.lines[0].quantity == 144
    # 216.00 a case of 12 is the list price of 18.00 each; 240.00 a case is not.
    [doubtful] = edi_app.edi.receive(interchange(control="000000108", po="LHS-4411", unit="CA", price="240.00",
                                                 pack="12")).orders
    assert doubtful["status"] == "needs_review"
    assert [p["field"] for p in doubtful["problems"]] == ["lines[0].unit_price"]


def test_one_bad_set_is_refused_alone(edi_app: App) -> None:
    raw = interchange(control="000000104", sets=2).replace(b"SE*11*0002", b"SE*99*0002")
    result = edi_app.edi.receive(raw)
    assert [o["status"] for o in result.orders] == ["accepted"]
    [rejected] = result.rejections
    assert rejected["code"] == "edi.count" and rejected["set"] == "0002"
    assert "AK5*R" in result.acknowledgements[0]


def test_corrupt_interchanges_are_refused_over_http_with_the_segment(edi_app: App) -> None:
    with TestClient(create_api(edi_app, background_seconds=0), headers=headers(edi_app)) as http:
        good = http.post("/intake/edi", content=interchange(control="000000105"))
        assert good.status_code == 201 and good.json()["orders"][0]["status"] == "accepted"
        for raw in (b"", b"not edi at all", interchange(control="000000106").replace(b"IEA*1*000000106",
                                                                                         b"IEA*1*000000999")):
            response = http.post("/intake/edi", content=raw)
            body = response.json()
            if response.status_code == 201:  # the envelope was readable: the interchange is refused inside
                assert body["orders"] == [] and body["rejections"][0]["code"] == "edi.control_number"
            else:
                assert response.status_code in (400, 422) and body["code"].startswith("edi.")


def test_ship_notice_and_invoice_are_valid_x12(edi_app: App) -> None:
    [po] = read_purchase_orders(interchange(control="000000107")).orders
    from datetime import UTC, date, datetime

    when = datetime(2030, 1, 2, 15, 0, tzinfo=UTC)
    asn = ship_notice(po, shipment_id="SHP-1", shipped_at=when, carrier="CAR", tracking="1Z999",
                      items=[ShippedItem("1", "SKU-A", 12), ShippedItem("2", "SKU-B", 3)], ship_from="DC-EAST",
                      control_number=9, when=when)
    bill = invoice(po, invoice_number="INV-1", invoice_date=date(2030, 1, 3), control_number=10, when=when,
                   items=[InvoiceItem("1", "SKU-A", 12, Decimal("18.00")), InvoiceItem("2", "SKU-B", 3,
                                                                                       Decimal("7.50"))])
    for text, set_id in ((asn, "856"), (bill, "810")):
        document = read_x12(text)
        assert document.rejections == []
        assert [ts.set_id for ts in document.transaction_sets()] == [set_id]
    assert "REF*CN*1Z999" in asn and "PRF*LHS-4410-1" in asn and "TDS*23850" in bill


def orders_message(ref: str = "1", po: str = "LHS-9001", price: str = "18,00") -> bytes:
    segments = [f"UNH+{ref}+ORDERS:D:96A:UN:EAN008", f"BGM+220+{po}+9", "DTM+137:20300101:102",
                "DTM+2:20300110:102", "NAD+BY+5412345000013::9", "NAD+DP+5412345000020::9++Lakeshore Home Supply"
                "+233 S Wacker Dr+Chicago+IL+60606+US", "CUX+2:USD:9", "LIN+1++SKU-A:SA", "QTY+21:12:PCE",
                f"PRI+AAA:{price}", "LIN+2++SKU-B:SA", "QTY+21:3:PCE", "UNS+S", "CNT+2:2"]
    return ("UNA:+,? '" + "UNB+UNOC:3+LAKESHORE:14+ORDERLOOM:14+300101:0900+EDI0001'"
            + "'".join(segments) + f"'UNT+{len(segments) + 1}+{ref}'" + "UNZ+1+EDI0001'").encode()


def test_an_edifact_orders_message_becomes_an_order_with_an_ordrsp_once(edi_app: App) -> None:
    result = edi_app.edi.receive(orders_message())
    [placed] = result.orders
    assert placed["status"] == "accepted" and placed["order_status"] == "allocated", placed["problems"]
    with edi_app.uow(readonly=True) as uow:
        order = uow.orders.get(placed["order_id"])
    assert order is not None and order.external_id == "LHS-9001" and order.channel == "b2b_edi"
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [("SKU-A", 12), ("SKU-B", 3)]
    [ordrsp] = result.acknowledgements
    assert "ORDRSP:D:96A" in ordrsp and "RFF+ON:LHS-9001" in ordrsp and ordrsp.count("LIN+") == 2
    again = edi_app.edi.receive(orders_message())
    assert again.orders[0]["duplicate"] and orders(edi_app) == 1
    # A decimal-comma price that differs from the list waits for review, naming the line.
    [doubt] = edi_app.edi.receive(orders_message(ref="2", po="LHS-9002", price="12,50")
                                  .replace(b"EDI0001", b"EDI0002")).orders
    assert doubt["status"] == "needs_review" and doubt["problems"][0]["field"] == "lines[0].unit_price"


def test_a_date_no_node_can_meet_is_an_exception_acknowledged_as_backordered(edi_app: App) -> None:
    # Five carrier days from the only stocked node: January 3rd cannot be met, so routing refuses to
    # guess a later date; the order waits in exception for a person and the partner hears "backordered".
    result = edi_app.edi.receive(interchange(control="000000109", po="LHS-4420", wanted="20300103"))
    [placed] = result.orders
    assert placed["status"] == "accepted" and placed["order_status"] == "exception"
    ack855 = result.acknowledgements[-1]
    assert "BAK*00*RJ*LHS-4420-1" in ack855 and ack855.count("ACK*IB") == 2


def test_ship_notice_and_invoice_for_a_shipped_edi_order(edi_app: App) -> None:
    [placed] = edi_app.edi.receive(interchange(control="000000110", po="LHS-4430")).orders
    order_id = placed["order_id"]
    edi_app.bus.handle(c.ReleaseOrderToFulfillment(order_id=order_id))
    edi_app.bus.handle(c.RecordShipment(order_id=order_id, node="DC-EAST", carrier="CAR", tracking_number="1Z42",
                                        shipment_id="SHP-42", lines=(c.ShipmentLine(1, 12), c.ShipmentLine(2, 3))))
    with TestClient(create_api(edi_app, background_seconds=0), headers=headers(edi_app)) as http:
        asn = http.get(f"/intake/orders/{order_id}/ship-notice/SHP-42")
        bill = http.get(f"/intake/orders/{order_id}/invoice")
        assert asn.status_code == 200 and bill.status_code == 200
        assert "REF*CN*1Z42" in asn.text and "PRF*LHS-4430-1" in asn.text and "SN1**12*EA" in asn.text
        assert "BIG*" in bill.text and "IT1*1*12*EA*18.00" in bill.text and "TDS*23850" in bill.text
        for text in (asn.text, bill.text):
            assert read_x12(text).rejections == []
        assert http.get(f"/intake/orders/{order_id}/ship-notice/NOPE").status_code == 404
        web = http.post("/orders", json={"channel": "web", "external_id": "W-9", "ship_to": {
            "name": "A", "line1": "1 Main St", "city": "New York", "state": "NY", "postal_code": "10001",
            "country": "US"}, "lines": [{"sku": "SKU-A", "quantity": 1}]}).json()
        refused = http.get(f"/intake/orders/{web['order_id']}/invoice")
        assert refused.status_code == 404 and refused.json()["problems"][0]["code"] == "edi.no_source_document"
