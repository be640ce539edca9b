"""Channel adapters: a marketplace order feed and a store POS payload, mapped to the engine's PlaceOrder.

Pure functions (no database): they check the payload's shape and name every problem with the payload's own
field path (`OrderItems[1].QuantityOrdered`), then hand a `PlaceOrder` to the engine, which checks SKUs,
prices and the address like any other order. Nothing is guessed: a field that is missing or malformed is
an error, not a default.

Marketplace feed: the shape of the large marketplaces' order APIs (Amazon SP-API Orders: `AmazonOrderId`,
`ShippingAddress`, `OrderItems[].SellerSKU/QuantityOrdered/ItemPrice`). `ItemPrice.Amount` is the price of
the whole item line, so the unit price is `Amount / QuantityOrdered`, rounded to the cent.

POS payload: a store's point of sale selling from the endless aisle (`fulfilment: "ship"`, shipped to the
customer from wherever routing decides) or reserving for collection in that store (`fulfilment:
"pickup"`, allocated at the store itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.errors import Problem

MAX_LINES = 500
CENT = Decimal("0.01")


@dataclass(frozen=True)
class MappedOrder:
    command: c.PlaceOrder
    pickup_node: str | None = None


class _Reader:
    """Reads fields from an untrusted JSON object, collecting a Problem for each bad one."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def obj(self, data: Any, path: str) -> dict[str, Any]:
        if not isinstance(data, dict):
            self.problems.append(Problem("intake.type", path or "payload", f"{path or 'payload'} must be an object",
                                         "send a JSON object"))
            return {}
        return data

    def text(self, data: dict[str, Any], key: str, path: str, *, required: bool = True, max_length: int = 200) -> str:
        field = f"{path}.{key}" if path else key
        value = data.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problems.append(Problem("intake.required", field, f"{field} is missing", f"send {field}"))
            return ""
        if not isinstance(value, str):
            self.problems.append(Problem("intake.type", field, f"{field} must be text, got {type(value).__name__}",
                                         "send a string"))
            return ""
        if len(value) > max_length or not value.isprintable():
            self.problems.append(Problem("intake.text", field, f"{field} must be printable text of at most "
                                         f"{max_length} characters", "shorten or clean the value"))
            return ""
        return value.strip()

    def quantity(self, data: dict[str, Any], key: str, path: str) -> int:
        field = f"{path}.{key}"
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
            self.problems.append(Problem(e.InvalidQuantity.code, field,
                                         f"{field} must be a whole number 1-1,000,000, got {value!r}",
                                         "send the number of units"))
            return 0
        return value

    def amount(self, value: Any, field: str) -> Decimal | None:
        try:
            amount = Decimal(str(value)) if isinstance(value, str | int | float) and not isinstance(value, bool) \
                else None
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or amount > Decimal("10000000"):
            self.problems.append(Problem("pricing.invalid", field, f"{field} must be a non-negative amount, "
                                         f"got {value!r}", "send the amount as a number or decimal string"))
            return None
        return amount

    def when(self, data: dict[str, Any], key: str, path: str) -> datetime | None:
        field = f"{path}.{key}" if path else key
        value = data.get(key)
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None or parsed.tzinfo is None:
            self.problems.append(Problem("intake.datetime", field, f"{field} must be an ISO 8601 time with a zone, "
                                         f"got {value!r}", "e.g. 2026-11-30T18:00:00Z"))
            return None
        return parsed

    def raise_if_any(self, summary: str) -> None:
        if self.problems:
            raise e.ValidationFailed(summary + ": " + "; ".join(p.message for p in self.problems[:5]),
                                     problems=self.problems)


def _lines(r: _Reader, items: Any, path: str) -> list[Any]:
    if not isinstance(items, list) or not items:
        r.problems.append(Problem("intake.required", path, f"{path} must be a non-empty list",
                                  "send one entry per item"))
        return []
    if len(items) > MAX_LINES:
        r.problems.append(Problem("validation.too_many_lines", path, f"{path} has {len(items)} entries, at most "
                                  f"{MAX_LINES} are accepted", "split the order"))
        return []
    return items


def map_marketplace_order(payload: Any, channel: str = "marketplace") -> MappedOrder:
    """A marketplace order (SP-API-like) as a PlaceOrder on `channel`."""
    r = _Reader()
    data = r.obj(payload, "")
    order_id = r.text(data, "AmazonOrderId", "", max_length=64) if "AmazonOrderId" in data else \
        r.text(data, "OrderId", "", max_length=64)
    address = r.obj(data.get("ShippingAddress"), "ShippingAddress")
    ship_to: dict[str, str] = {}
    if address:
        ship_to = {"name": r.text(address, "Name", "ShippingAddress"),
                   "line1": r.text(address, "AddressLine1", "ShippingAddress"),
                   "city": r.text(address, "City", "ShippingAddress"),
                   "state": r.text(address, "StateOrRegion", "ShippingAddress", max_length=64),
                   "postal_code": r.text(address, "PostalCode", "ShippingAddress", max_length=16),
                   "country": r.text(address, "CountryCode", "ShippingAddress", max_length=2)}
        line2 = r.text(address, "AddressLine2", "ShippingAddress", required=False)
        phone = r.text(address, "Phone", "ShippingAddress", required=False, max_length=40)
        ship_to.update({k: v for k, v in (("line2", line2), ("phone", phone)) if v})
    lines: list[c.NewOrderLine] = []
    currency = ""
    for i, raw in enumerate(_lines(r, data.get("OrderItems"), "OrderItems")):
        path = f"OrderItems[{i}]"
        item = r.obj(raw, path)
        if not item:
            continue
        sku = r.text(item, "SellerSKU", path, max_length=64)
        qty = r.quantity(item, "QuantityOrdered", path)
        price = r.obj(item.get("ItemPrice"), f"{path}.ItemPrice")
        amount = r.amount(price.get("Amount"), f"{path}.ItemPrice.Amount") if price else None
        code = r.text(price, "CurrencyCode", f"{path}.ItemPrice", max_length=3) if price else ""
        if code and currency and code != currency:
            r.problems.append(Problem("validation.currency", f"{path}.ItemPrice.CurrencyCode",
                                      f"{path} is in {code}, the order in {currency}", "one currency per order"))
        currency = currency or code
        if sku and qty and amount is not None:
            unit = (amount / qty).quantize(CENT, ROUND_HALF_UP)
            lines.append(c.NewOrderLine(sku=sku, quantity=qty, unit_price=unit))
    latest = r.when(data, "LatestDeliveryDate", "")
    r.raise_if_any("the marketplace order is not valid")
    return MappedOrder(c.PlaceOrder(channel=channel, external_id=order_id, lines=tuple(lines), ship_to=ship_to,
                                    currency=currency or "USD", requested_delivery=latest))


def map_pos_sale(payload: Any, store_address: dict[str, str] | None = None, channel: str = "pos") -> MappedOrder:
    """A POS sale: `fulfilment` "ship" (endless aisle) or "pickup" (reserved in the selling store).

    `store_address` is the selling store's address (name, line1, city, state, postal_code, country), used as
    the ship-to of a pickup; the caller looks it up from the store code."""
    r = _Reader()
    data = r.obj(payload, "")
    store = r.text(data, "store", "", max_length=32)
    register = r.text(data, "register", "", max_length=16)
    receipt = r.text(data, "receipt", "", max_length=64)
    fulfilment = data.get("fulfilment", "ship")
    if fulfilment not in ("ship", "pickup"):
        r.problems.append(Problem("intake.fulfilment", "fulfilment", f"fulfilment must be ship or pickup, got "
                                  f"{fulfilment!r}", "send ship (deliver to the customer) or pickup (collect here)"))
    customer = r.obj(data.get("customer", {}), "customer")
    name = r.text(customer, "name", "customer") if customer else ""
    ship_to: dict[str, str] = {}
    if fulfilment == "ship":
        address = r.obj(data.get("ship_to"), "ship_to")
        if address:
            ship_to = {k: r.text(address, k, "ship_to", max_length=64 if k != "line1" else 200)
                       for k in ("line1", "city", "state", "postal_code", "country")}
            ship_to["name"] = name
    elif fulfilment == "pickup" and store_address is not None:
        ship_to = {**store_address, "name": name}
    elif fulfilment == "pickup":
        r.problems.append(Problem(e.UnknownNode.code, "store", f"store {store!r} is not a configured store",
                                  "send the store's node code"))
    lines: list[c.NewOrderLine] = []
    for i, raw in enumerate(_lines(r, data.get("lines"), "lines")):
        path = f"lines[{i}]"
        item = r.obj(raw, path)
        if not item:
            continue
        sku = r.text(item, "sku", path, max_length=64)
        qty = r.quantity(item, "qty", path)
        price = r.amount(item.get("price"), f"{path}.price") if "price" in item else None
        if sku and qty:
            lines.append(c.NewOrderLine(sku=sku, quantity=qty, unit_price=price))
    currency = r.text(data, "currency", "", required=False, max_length=3) or "USD"
    r.raise_if_any("the POS sale is not valid")
    external_id = f"{store}-{register}-{receipt}"
    return MappedOrder(c.PlaceOrder(channel=channel, external_id=external_id, lines=tuple(lines), ship_to=ship_to,
                                    currency=currency, notes=f"POS {store} register {register} receipt {receipt}"),
                       pickup_node=store if fulfilment == "pickup" else None)
