"""What the customer assistant may read and propose, always as the signed-in customer or buyer.

Every method starts from the caller's own orders (by customer id, or by account for a buyer) and never
looks an order up by an id alone: an id, external reference or email address that is not one of the caller's
orders gets the same "not among your orders" answer whether it exists or not.
"""

from __future__ import annotations

from typing import Any, Protocol

from engine.domain import errors as e
from engine.domain.access import Principal, Role
from engine.domain.orders import OrderStatus
from engine.domain.returns import CUSTOMER_WORDS, ReturnReason, RmaStatus, reason_from_text
from engine.intake.address import validate_address
from engine.services.unit_of_work import AbstractUnitOfWork

CHANGEABLE = frozenset({OrderStatus.RECEIVED, OrderStatus.VALIDATED, OrderStatus.ALLOCATED, OrderStatus.ON_HOLD,
                        OrderStatus.EXCEPTION})
NOT_YOURS = {"error": "not_found", "message": "I can't find that order among yours."}


class CustomerApp(Protocol):
    def uow(self, *, readonly: bool = False) -> AbstractUnitOfWork: ...

    @property
    def tracking(self) -> Any: ...

    @property
    def exceptions(self) -> Any: ...

    @property
    def returns(self) -> Any: ...


class CustomerTools:
    def __init__(self, app: CustomerApp, principal: Principal) -> None:
        if principal.role not in (Role.CUSTOMER, Role.BUYER):
            raise PermissionError("the customer assistant serves customers and buyers")
        self.app = app
        self.principal = principal

    def _own_ids(self, uow: AbstractUnitOfWork, limit: int = 200) -> list[str]:
        p = self.principal
        if p.role is Role.CUSTOMER and p.customer_id:
            return uow.orders.list_ids(customer_id=p.customer_id, limit=limit)
        if p.role is Role.BUYER and p.account_code:
            return uow.orders.list_ids(account_code=p.account_code, limit=limit)
        return []

    def _resolve(self, uow: AbstractUnitOfWork, ref: str | None) -> str | None:
        """One of the caller's orders by its id or the caller's own reference; the latest when none is named."""
        own = self._own_ids(uow)
        if ref is None:
            return own[0] if own else None
        ref = ref.strip().lstrip("#")
        if ref in own:
            return ref
        for oid in own:
            order = uow.orders.get(oid)
            if order is not None and order.external_id.lower() == ref.lower():
                return oid
        return None

    def my_orders(self, limit: int = 5) -> dict[str, Any]:
        with self.app.uow(readonly=True) as uow:
            out = []
            for oid in self._own_ids(uow, limit):
                order = uow.orders.get(oid)
                if order is not None:
                    out.append({"order_id": oid, "reference": order.external_id, "status": order.status.value,
                                "placed_at": order.placed_at.date().isoformat()})
        return {"orders": out}

    def order_status(self, ref: str | None) -> dict[str, Any]:
        with self.app.uow(readonly=True) as uow:
            oid = self._resolve(uow, ref)
            if oid is None:
                return dict(NOT_YOURS) if ref else {"error": "none", "message": "I don't see any orders yet."}
            tracking: dict[str, Any] = self.app.tracking.order_tracking(uow, oid)
            order = uow.orders.get(oid)
            assert order is not None
            tracking["reference"] = order.external_id
            tracking["ship_to_city"] = order.ship_to.city
        tracking["returns"] = [{"rma_id": r["rma_id"], "status": r["status"],
                                "words": CUSTOMER_WORDS[RmaStatus(r["status"])], "refund_amount": r["refund_amount"],
                                "label": r["label"] if r["status"] == "label_issued" else None}
                               for r in self.app.returns.for_order(oid)]
        return tracking

    def propose_address_change(self, ref: str | None, ship_to: dict[str, str] | None) -> dict[str, Any]:
        with self.app.uow(readonly=True) as uow:
            oid = self._resolve(uow, ref)
            order = uow.orders.get(oid) if oid else None
        if order is None:
            return dict(NOT_YOURS) if ref else {"error": "none", "message": "I don't see any orders yet."}
        if order.status not in CHANGEABLE:
            return {"error": "too_late", "order_id": order.order_id, "status": order.status.value,
                    "message": f"order {order.order_id} is already {order.status.value.replace('_', ' ')}, so the "
                               "address can no longer be changed."}
        if not ship_to:
            return {"error": "need_address", "order_id": order.order_id,
                    "message": "Which address should it go to? Please give street, city, state and ZIP."}
        new = {**order.ship_to.to_dict(), **ship_to}
        check = validate_address(new)
        if not check.valid:
            return {"error": "bad_address", "order_id": order.order_id,
                    "message": "I can't use that address: " + "; ".join(p.message for p in check.problems[:3])
                               + ". Please check the street, city, state and ZIP."}
        proposal = self.app.exceptions.propose(
            "correct_address", {"ship_to": new}, f"customer asked to ship to {ship_to.get('line1', '')}, "
            f"{ship_to.get('city', '')} {ship_to.get('postal_code', '')}".strip(), f"customer:{self.principal.name}",
            order_id=order.order_id)
        return {"order_id": order.order_id, "proposal_id": proposal["proposal_id"], "ship_to": new}

    def start_return(self, ref: str | None, reason: str, message: str = "") -> dict[str, Any]:
        """Open a return (an RMA) for every shipped unit of one of the caller's orders that is not already on a
        return. The returns desk checks the policy; within it the return is authorised with its label at once,
        otherwise a person decides (the customer is told only that the team will check it).

        When the customer's `message` asks for an exchange (`exchange_wish`: "swap it for a medium", "a size
        up", "in navy instead"), code picks the variant: the lines it fits are exchanged for it; when it fits
        none, the answer lists the sizes and colours there are and nothing is opened. "Just exchange it"
        replaces the same items."""
        with self.app.uow(readonly=True) as uow:
            oid = self._resolve(uow, ref)
            order = uow.orders.get(oid) if oid else None
        if order is None:
            return dict(NOT_YOURS) if ref else {"error": "none", "message": "I don't see any orders yet."}
        if not order.any_shipped:
            return {"error": "not_shipped", "order_id": order.order_id, "status": order.status.value,
                    "message": f"order {order.order_id} hasn't shipped yet; I can ask for it to be cancelled "
                               "instead if you like."}
        lines: list[dict[str, Any]] | None = None
        swaps: dict[int, str] = {}
        choice = self.app.returns.exchange_from_words(order.order_id, message)
        if choice is not None and choice.wish.specific:
            swaps = choice.picks
            if not swaps and choice.lines:
                return {"error": "exchange_choice", "order_id": order.order_id,
                        "message": _choices(order.order_id, choice.lines)}
            # another size for "medium" or "a size up": the fit was the reason, whatever words came with it
            fit = "size_or_fit" if (choice.wish.size or choice.wish.step) \
                and reason_from_text(reason) is ReturnReason.OTHER else None
            lines = [{"line_no": ln["line_no"], "quantity": ln["returnable"], **({"reason": fit} if fit else {})}
                     for ln in choice.lines if ln["line_no"] in swaps] or None  # none left: the desk says why
        resolution = "refund" if choice is None else "exchange"
        try:
            rma = self.app.returns.request(order.order_id, lines, reason[:200], requested_by=self.principal.actor,
                                           resolution=resolution, exchange_skus=swaps or None)
        except (e.ReturnNotEligible, e.ValidationFailed) as exc:
            why = "; ".join(p.message for p in exc.problems[:3]) or exc.message
            return {"error": "not_eligible", "order_id": order.order_id,
                    "message": f"I can't start a return for order {order.order_id}: {why}."}
        labels = choice.labels if choice is not None else {}
        return {"order_id": order.order_id, "rma_id": rma["rma_id"], "status": rma["status"],
                "resolution": rma["resolution"],
                "lines": [{"line_no": ln["line_no"], "sku": ln["sku"], "quantity": ln["quantity"],
                           "exchange_for": labels.get(ln.get("exchange_sku") or "")} for ln in rma["lines"]],
                "label": rma.get("label"), "review": rma["status"] == "requested"}


def _choices(order_id: str, offered: list[dict[str, Any]]) -> str:
    """The sizes and colours an exchange can send, line by line, for the customer to choose from."""
    have = [f"{ln['name']} can be exchanged for " + ", ".join(v["variant"] for v in ln["variants"][:8])
            for ln in offered if ln["variants"]]
    if not have:
        return (f"The items on order {order_id} come in one version only, so I can exchange them for the same "
                "again (say \"exchange it\") or start a return for a refund.")
    return "Which would you like? " + "; ".join(have) + "."
