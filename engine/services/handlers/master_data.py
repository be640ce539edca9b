"""Handlers for catalog, network, channels, accounts and carriers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from engine.domain import commands as c
from engine.domain import errors as e
from engine.domain.catalog import Sku
from engine.domain.channels import Channel
from engine.domain.customers import B2BAccount, Customer, PriceList
from engine.domain.errors import Problem
from engine.domain.events import MasterDataChanged
from engine.domain.network import Carrier, FulfillmentNode, Lane, ServiceLevel
from engine.services.handlers.checks import code_problem, is_lookup_key, raise_if_any, sku_problem, text_problem
from engine.services.unit_of_work import AbstractUnitOfWork


def _changed(uow: AbstractUnitOfWork, entity: str, key: str, created: bool) -> dict[str, Any]:
    uow.emit(MasterDataChanged(entity=entity, key=key, change="created" if created else "updated",
                               occurred_at=uow.now()))
    return {entity: key, "created": created}


def _money_problem(field: str, value: Decimal) -> Problem | None:
    if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
        return Problem("validation.money", field, f"{field} must be a non-negative amount, got {value!r}",
                       "send a decimal amount such as 12.50")
    return None


def upsert_sku(cmd: c.UpsertSku, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (
        sku_problem(uow, "sku", cmd.sku, known={cmd.sku}),
        text_problem("name", cmd.name, max_length=300),
        text_problem("category", cmd.category, max_length=100),
        _money_problem("unit_price", cmd.unit_price),
        _money_problem("weight_kg", cmd.weight_kg),
    ) if p]
    for i, sub in enumerate(cmd.substitutes):
        if sub.sku == cmd.sku:
            problems.append(Problem("catalog.self_substitute", f"substitutes[{i}]",
                                    "a SKU cannot substitute for itself", "remove it"))
        elif (p := sku_problem(uow, f"substitutes[{i}].sku", sub.sku)) is not None:
            problems.append(p)
        if sub.min_price_ratio > sub.max_price_ratio or sub.min_price_ratio < 0:
            problems.append(Problem("catalog.substitute_range", f"substitutes[{i}]",
                                    "the approved price range is empty or negative",
                                    "set 0 <= min_price_ratio <= max_price_ratio"))
    raise_if_any(problems)
    item = Sku(sku=cmd.sku, name=cmd.name.strip(), category=cmd.category.strip(), unit_price=cmd.unit_price,
               weight_kg=cmd.weight_kg, hazmat=cmd.hazmat, is_new=cmd.is_new,
               unit_of_measure=cmd.unit_of_measure, attributes=dict(cmd.attributes),
               substitutes=list(cmd.substitutes))
    return _changed(uow, "sku", cmd.sku, uow.master.upsert_sku(item))


def upsert_node(cmd: c.UpsertNode, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (
        code_problem("code", cmd.code),
        text_problem("name", cmd.name, max_length=200),
        text_problem("postal_code", cmd.postal_code, max_length=16),
    ) if p]
    if isinstance(cmd.daily_pick_capacity, bool) or not isinstance(cmd.daily_pick_capacity, int) \
            or cmd.daily_pick_capacity < 0:
        problems.append(Problem("validation.capacity", "daily_pick_capacity",
                                "daily pick capacity must be zero or more units", "send an integer >= 0"))
    if not (-90 <= cmd.latitude <= 90 and -180 <= cmd.longitude <= 180):
        problems.append(Problem("validation.location", "latitude/longitude", "coordinates out of range",
                                "send decimal degrees"))
    raise_if_any(problems)
    node = FulfillmentNode(
        code=cmd.code, name=cmd.name, node_type=cmd.node_type, city=cmd.city, state=cmd.state,
        postal_code=cmd.postal_code, latitude=cmd.latitude, longitude=cmd.longitude,
        timezone=cmd.timezone, daily_pick_capacity=cmd.daily_pick_capacity,
        cutoff_local=cmd.cutoff_local, ship_from_enabled=cmd.ship_from_enabled,
        hazmat_capable=cmd.hazmat_capable, b2b_only=cmd.b2b_only, handling_cost=str(cmd.handling_cost))
    return _changed(uow, "node", cmd.code, uow.master.upsert_node(node))


def upsert_channel(cmd: c.UpsertChannel, uow: AbstractUnitOfWork) -> dict[str, Any]:
    raise_if_any([p for p in (code_problem("code", cmd.code), text_problem("name", cmd.name, max_length=200))
                  if p])
    channel = Channel(code=cmd.code, name=cmd.name, kind=cmd.kind, priority=cmd.priority)
    return _changed(uow, "channel", cmd.code, uow.master.upsert_channel(channel))


def upsert_price_list(cmd: c.UpsertPriceList, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (code_problem("code", cmd.code),) if p]
    if not (isinstance(cmd.currency, str) and len(cmd.currency) == 3 and cmd.currency.isascii()
            and cmd.currency.isalpha() and cmd.currency.isupper()):
        problems.append(Problem("validation.currency", "currency", f"{cmd.currency!r} is not an ISO 4217 code",
                                "send three capital letters such as USD"))
    known = uow.master.existing_skus(sku for sku in cmd.prices if is_lookup_key(sku))
    for sku, price in cmd.prices.items():
        if (p := sku_problem(uow, f"prices[{sku}]", sku, known=known)) is not None:
            problems.append(p)
        if (p := _money_problem(f"prices[{sku}]", price)) is not None:
            problems.append(p)
    raise_if_any(problems)
    created = uow.master.upsert_price_list(PriceList(cmd.code, cmd.currency, dict(cmd.prices)))
    return _changed(uow, "price_list", cmd.code, created)


def upsert_account(cmd: c.UpsertAccount, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (code_problem("code", cmd.code), text_problem("name", cmd.name, max_length=200),
                            _money_problem("credit_limit", cmd.credit_limit)) if p]
    if not is_lookup_key(cmd.price_list_code) or not uow.master.price_list_exists(cmd.price_list_code):
        problems.append(Problem("pricing.unknown_price_list", "price_list_code",
                                f"price list {cmd.price_list_code!r} does not exist", "create it first"))
    if cmd.edi_partner_id is not None:
        partner_problem = text_problem("edi_partner_id", cmd.edi_partner_id, max_length=64, required=False)
        if partner_problem is not None:
            problems.append(partner_problem)
        elif (holder := uow.master.account_code_by_edi_partner(cmd.edi_partner_id)) not in (None, cmd.code):
            problems.append(Problem("account.edi_partner_taken", "edi_partner_id",
                                    f"EDI partner id {cmd.edi_partner_id!r} already belongs to account {holder!r}",
                                    "use this partner's own EDI id, or update that account instead",
                                    {"account_code": holder}))
    raise_if_any(problems)
    account = B2BAccount(code=cmd.code, name=cmd.name, tier=cmd.tier, price_list_code=cmd.price_list_code,
                         credit_limit=cmd.credit_limit, ship_complete=cmd.ship_complete,
                         edi_partner_id=cmd.edi_partner_id, email_domains=tuple(cmd.email_domains))
    return _changed(uow, "account", cmd.code, uow.master.upsert_account(account))


def upsert_customer(cmd: c.UpsertCustomer, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (code_problem("customer_id", cmd.customer_id, max_length=64),
                            text_problem("name", cmd.name, max_length=200)) if p]
    email = cmd.email.strip().lower() if isinstance(cmd.email, str) else ""
    if not isinstance(cmd.email, str) or "@" not in cmd.email or len(cmd.email) > 320 \
            or not email.isprintable() or " " in email:
        problems.append(Problem("validation.email", "email", f"{cmd.email!r} is not an email address",
                                "send name@domain"))
    elif (holder := uow.master.customer_id_by_email(email)) not in (None, cmd.customer_id):
        # UNIQUE in the database: refused here with the holder named, not by the constraint
        problems.append(Problem("customer.email_taken", "email",
                                f"email {email!r} is already used by customer {holder!r}",
                                "use another email address, or update that customer instead",
                                {"customer_id": holder}))
    if cmd.account_code is not None and (not is_lookup_key(cmd.account_code)
                                         or uow.master.get_account(cmd.account_code) is None):
        problems.append(Problem(e.UnknownAccount.code, "account_code",
                                f"account {cmd.account_code!r} does not exist", "create the account first"))
    raise_if_any(problems)
    customer = Customer(customer_id=cmd.customer_id, email=email, name=cmd.name,
                        tier=cmd.tier, account_code=cmd.account_code)
    return _changed(uow, "customer", cmd.customer_id, uow.master.upsert_customer(customer))


def upsert_carrier(cmd: c.UpsertCarrier, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems = [p for p in (code_problem("code", cmd.code), text_problem("name", cmd.name, max_length=200))
                if p]
    services: list[ServiceLevel] = []
    for i, s in enumerate(cmd.services):
        try:
            services.append(ServiceLevel(s))
        except ValueError:
            problems.append(Problem("carrier.unknown_service", f"services[{i}]", f"unknown service {s!r}",
                                    f"use one of {', '.join(x.value for x in ServiceLevel)}"))
    raise_if_any(problems)
    created = uow.master.upsert_carrier(Carrier(cmd.code, cmd.name, tuple(services)))
    return _changed(uow, "carrier", cmd.code, created)


def upsert_lanes(cmd: c.UpsertLanes, uow: AbstractUnitOfWork) -> dict[str, Any]:
    problems: list[Problem] = []
    lanes: list[Lane] = []
    nodes = {n.code for n in uow.master.list_nodes()}
    carriers: dict[str, bool] = {}
    for i, row in enumerate(cmd.lanes):
        if not isinstance(row, tuple | list) or len(row) not in (6, 7):
            problems.append(Problem("lane.shape", f"lanes[{i}]", "a lane is (carrier, service, origin node, ZIP3, "
                                    "zone, transit days[, on-time probability])", "send 6 or 7 values"))
            continue
        carrier, service, origin, prefix, zone, transit = row[:6]
        on_time = row[6] if len(row) == 7 else None
        if on_time is not None and (isinstance(on_time, bool) or not isinstance(on_time, int | float)
                                    or not 0 <= on_time <= 1):
            problems.append(Problem("lane.on_time", f"lanes[{i}].on_time_probability",
                                    f"on-time probability must be between 0 and 1, got {on_time!r}",
                                    "send a share such as 0.96"))
            continue
        if carrier not in carriers:
            carriers[carrier] = is_lookup_key(carrier) and uow.master.carrier_exists(carrier)
        if not carriers[carrier]:
            problems.append(Problem("carrier.unknown", f"lanes[{i}].carrier", f"carrier {carrier!r} unknown",
                                    "create the carrier first"))
        if origin not in nodes:
            problems.append(Problem(e.UnknownNode.code, f"lanes[{i}].origin_node", f"node {origin!r} unknown",
                                    "use a configured node"))
        if not (isinstance(prefix, str) and len(prefix) == 3 and prefix.isascii() and prefix.isdigit()):
            problems.append(Problem("lane.dest_prefix", f"lanes[{i}].dest_prefix",
                                    f"{prefix!r} is not a 3-digit ZIP prefix", "use e.g. 941"))
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (zone, transit)) \
                or transit < 0 or zone < 1:
            problems.append(Problem("lane.transit", f"lanes[{i}]", "zone must be >= 1 and transit >= 0 days",
                                    "fix the lane"))
        try:
            level = ServiceLevel(service)
        except ValueError:
            problems.append(Problem("carrier.unknown_service", f"lanes[{i}].service",
                                    f"unknown service {service!r}", "use ground, expedited or next_day"))
            continue
        lanes.append(Lane(carrier, level, origin, prefix, zone, transit, on_time))
    raise_if_any(problems)
    count = uow.master.upsert_lanes(lanes)
    uow.emit(MasterDataChanged(entity="lanes", key=str(count), change="upserted", occurred_at=uow.now()))
    return {"lanes": count}
