"""Who may do what: roles, their permissions, and the object-level rule for orders.

A principal is an authenticated caller: a person at ops, an ops administrator, a consumer (bound to a
customer id), a B2B buyer (bound to an account) or an integration (bound to one scope: a sales channel,
a warehouse node or a carrier). Endpoints name the permission they need; reads and writes of one order
also check that the order is the caller's (`may_see_order`). A denial never says whether the object exists.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from engine.domain.errors import Problem, ValidationFailed


class Role(enum.StrEnum):
    OPS = "ops"
    OPS_ADMIN = "ops_admin"
    CUSTOMER = "customer"
    BUYER = "buyer"
    INTEGRATION = "integration"


class Permission(enum.StrEnum):
    ORDERS_READ_ANY = "orders:read:any"        # every order, the queue, inventory, routing reads
    ORDERS_READ_OWN = "orders:read:own"        # the caller's own orders (customer) or account's (buyer)
    ORDERS_PLACE = "orders:place"              # place orders (integrations: their channel; buyers: their account)
    ORDERS_MANAGE = "orders:manage"            # release, cancel, hold, resume, route
    FULFILMENT_REPORT = "fulfilment:report"    # shipments, short picks (a warehouse's own node)
    CARRIER_REPORT = "carrier:report"          # carrier incidents (a carrier's own)
    EXCEPTIONS_ACT = "exceptions:act"          # resolve, dismiss, assign, decide proposals, ops chat
    POLICY_WRITE = "policy:write"              # routing and resolution policies, re-optimisation
    ACCESS_MANAGE = "access:manage"            # create and revoke keys
    PROMISE_READ = "promise:read"              # the checkout promise
    CHAT_CUSTOMER = "chat:customer"            # the customer assistant, scoped to the caller
    NOTIFICATIONS_MANAGE = "notifications:manage"  # approve clarification mails, read the notification log
    CUSTOMER_SESSIONS = "customer:sessions"    # a storefront mints short-lived tokens for its signed-in customers


P = Permission
_OPS = frozenset({P.ORDERS_READ_ANY, P.ORDERS_PLACE, P.ORDERS_MANAGE, P.FULFILMENT_REPORT, P.CARRIER_REPORT,
                  P.EXCEPTIONS_ACT, P.PROMISE_READ, P.NOTIFICATIONS_MANAGE})
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPS: _OPS,
    Role.OPS_ADMIN: _OPS | {P.POLICY_WRITE, P.ACCESS_MANAGE},
    Role.CUSTOMER: frozenset({P.ORDERS_READ_OWN, P.CHAT_CUSTOMER, P.PROMISE_READ}),
    Role.BUYER: frozenset({P.ORDERS_READ_OWN, P.ORDERS_PLACE, P.CHAT_CUSTOMER, P.PROMISE_READ}),
    # An integration's permissions depend on what it is bound to (see `permissions`).
    Role.INTEGRATION: frozenset(),
}
SCOPE_KINDS = {"channel": frozenset({P.ORDERS_PLACE, P.PROMISE_READ, P.CUSTOMER_SESSIONS}),
               "node": frozenset({P.FULFILMENT_REPORT}),
               "carrier": frozenset({P.CARRIER_REPORT})}
_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class Principal:
    """An authenticated caller. `scope` is 'channel:web', 'node:DC-EAST' or 'carrier:UPS' for integrations."""

    principal_id: str
    name: str
    role: Role
    customer_id: str | None = None
    account_code: str | None = None
    scope: str | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.role is Role.INTEGRATION:
            kind = (self.scope or "").partition(":")[0]
            return SCOPE_KINDS.get(kind, frozenset())
        return ROLE_PERMISSIONS[self.role]

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def scope_kind(self) -> str | None:
        return self.scope.partition(":")[0] if self.scope else None

    @property
    def scope_value(self) -> str | None:
        return self.scope.partition(":")[2] if self.scope else None

    @property
    def sees_every_order(self) -> bool:
        return self.can(P.ORDERS_READ_ANY)

    @property
    def actor(self) -> str:
        """The name audit trails record for this caller's actions."""
        return f"{self.role.value}:{self.name}"


def may_see_order(principal: Principal, *, customer_id: str | None, account_code: str | None,
                  channel: str | None = None) -> bool:
    """The object-level rule: ops see every order; a customer only orders placed under their customer id;
    a buyer only their account's; a channel integration the orders of its channel (to read back what it sent)."""
    if principal.sees_every_order:
        return True
    if principal.role is Role.CUSTOMER:
        return principal.customer_id is not None and customer_id == principal.customer_id
    if principal.role is Role.BUYER:
        return principal.account_code is not None and account_code == principal.account_code
    if principal.role is Role.INTEGRATION and principal.scope_kind == "channel":
        return channel is not None and channel == principal.scope_value
    return False


def check_binding(role: Role, *, customer_id: str | None, account_code: str | None, scope: str | None) -> None:
    """A principal is bound to exactly what its role needs; raise ValidationFailed naming what is wrong."""
    problems: list[Problem] = []

    def bad(field: str, message: str, hint: str) -> None:
        problems.append(Problem("access.binding_invalid", field, message, hint))

    if role is Role.CUSTOMER and not customer_id:
        bad("customer_id", "a customer key needs the customer it belongs to", "pass customer_id")
    if role is Role.BUYER and not account_code:
        bad("account_code", "a buyer key needs the B2B account it belongs to", "pass account_code")
    if role is Role.INTEGRATION:
        kind, _, value = (scope or "").partition(":")
        if kind not in SCOPE_KINDS or not value or not _CODE.match(value):
            bad("scope", "an integration key is bound to one channel, node or carrier",
                "pass scope as channel:<code>, node:<code> or carrier:<code>")
    if role is not Role.CUSTOMER and customer_id:
        bad("customer_id", f"a {role.value} key is not bound to a customer", "leave customer_id out")
    if role is not Role.BUYER and account_code:
        bad("account_code", f"a {role.value} key is not bound to an account", "leave account_code out")
    if role is not Role.INTEGRATION and scope:
        bad("scope", f"a {role.value} key has no integration scope", "leave scope out")
    for name, bound in (("customer_id", customer_id), ("account_code", account_code)):
        if bound and not _CODE.match(bound):
            bad(name, f"{name} must be 1-64 letters, digits or _.:-", "check the bound")
    if problems:
        raise ValidationFailed("the key's binding is not valid for its role", problems=problems)
