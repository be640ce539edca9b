"""Access: create principals and API keys, exchange keys for OAuth2 bearer tokens, authenticate either.

- An API key reads `olk_<key id>_<secret>`. Only the SHA-256 of the secret is stored (a 256-bit random
  secret needs no slow hash: there is nothing to brute-force); the key id finds the row, the hash is
  compared in constant time. The full key is shown once, when it is created.
- A bearer token (`olt_<secret>`) comes from the OAuth2 token endpoint (client credentials: the key's id
  and secret) or, for a signed-in shopper, from the storefront's own integration key (`customer_token`).
  Tokens are short-lived, stored as hashes, and carry the identity they were issued for.
- Every failure is the same NotAuthenticated: unknown, malformed, revoked and expired look alike.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.domain import errors as e
from engine.domain.access import Principal, Role, check_binding
from engine.services.ports import StoredKey, StoredToken
from engine.services.unit_of_work import AbstractUnitOfWork

UowFactory = Callable[..., AbstractUnitOfWork]
KEY_PREFIX = "olk_"
TOKEN_PREFIX = "olt_"
_KEY = re.compile(r"^olk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_TOKEN = re.compile(r"^olt_[A-Za-z0-9_-]{43}$")
TOKEN_TTL = timedelta(hours=1)
CUSTOMER_TOKEN_TTL = timedelta(minutes=30)
SESSION_TTL = timedelta(hours=8)  # a dashboard sign-in lasts a working day


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _unauthenticated() -> e.NotAuthenticated:
    return e.NotAuthenticated("authentication required: send a valid API key or bearer token")


@dataclass(frozen=True)
class IssuedKey:
    principal: Principal
    key_id: str
    key: str  # shown once

    def to_dict(self) -> dict[str, str | None]:
        p = self.principal
        return {"principal_id": p.principal_id, "name": p.name, "role": p.role.value, "customer_id": p.customer_id,
                "account_code": p.account_code, "scope": p.scope, "key_id": self.key_id, "api_key": self.key}


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    principal: Principal

    def to_dict(self) -> dict[str, str | int]:
        return {"access_token": self.access_token, "token_type": "bearer", "expires_in": self.expires_in,
                "role": self.principal.role.value}


class AccessService:
    def __init__(self, uow_factory: UowFactory) -> None:
        self.uow_factory = uow_factory

    # -- administration
    def create_principal(self, *, name: str, role: str, created_by: str, customer_id: str | None = None,
                         account_code: str | None = None, scope: str | None = None,
                         expires_at: datetime | None = None) -> IssuedKey:
        """A new principal with its first API key. Bindings are checked against the role and master data."""
        try:
            parsed = Role(role)
        except ValueError:
            raise e.ValidationFailed(f"unknown role {role!r}", problems=[e.Problem(
                "access.unknown_role", "role", f"{role!r} is not a role",
                "one of " + ", ".join(r.value for r in Role))]) from None
        if not isinstance(name, str) or not name.strip() or len(name) > 100 or not name.isprintable():
            raise e.ValidationFailed("the name must be 1-100 printable characters", problems=[e.Problem(
                "access.name_invalid", "name", "invalid name", "give the person or system a readable name")])
        check_binding(parsed, customer_id=customer_id, account_code=account_code, scope=scope)
        with self.uow_factory() as uow:
            self._check_exists(uow, parsed, customer_id, account_code, scope)
            principal = Principal(principal_id=secrets.token_hex(8), name=name.strip(), role=parsed,
                                  customer_id=customer_id, account_code=account_code, scope=scope)
            uow.access.add_principal(principal, created_by, uow.now())
            issued = self._new_key(uow, principal, expires_at)
            uow.commit()
        return issued

    def add_key(self, principal_id: str, *, expires_at: datetime | None = None) -> IssuedKey:
        """Another key for a principal (rotation: add the new one, move callers over, revoke the old)."""
        with self.uow_factory() as uow:
            found = uow.access.get_principal(principal_id)
            if found is None or found[1] is not None:
                raise e.NotFound(f"no active principal {principal_id}", principal_id=principal_id)
            issued = self._new_key(uow, found[0], expires_at)
            uow.commit()
        return issued

    def revoke_key(self, key_id: str) -> bool:
        with self.uow_factory() as uow:
            done = uow.access.revoke_key(key_id, uow.now())
            key = uow.access.get_key(key_id)
            if key is not None:  # tokens obtained with any key of the principal end with it
                uow.access.revoke_tokens_of(key.principal_id, uow.now())
            uow.commit()
        return done

    def revoke_principal(self, principal_id: str) -> bool:
        with self.uow_factory() as uow:
            done = uow.access.revoke_principal(principal_id, uow.now())
            for key in uow.access.keys_of(principal_id):
                uow.access.revoke_key(key.key_id, uow.now())
            uow.access.revoke_tokens_of(principal_id, uow.now())
            uow.commit()
        return done

    def principals(self) -> list[dict[str, Any]]:
        with self.uow_factory(readonly=True) as uow:
            out = []
            for p, revoked in uow.access.principals():
                keys = uow.access.keys_of(p.principal_id)
                out.append({"principal_id": p.principal_id, "name": p.name, "role": p.role.value,
                            "customer_id": p.customer_id, "account_code": p.account_code, "scope": p.scope,
                            "revoked": revoked is not None,
                            "keys": [{"key_id": k.key_id, "created_at": k.created_at.isoformat(),
                                      "expires_at": k.expires_at.isoformat() if k.expires_at else None,
                                      "revoked": k.revoked_at is not None} for k in keys]})
        return out

    # -- authentication
    def authenticate(self, credential: str) -> Principal:
        """The principal behind an API key or a bearer token; NotAuthenticated for anything else."""
        if not isinstance(credential, str) or len(credential) > 200:
            raise _unauthenticated()
        if credential.startswith(KEY_PREFIX):
            return self._by_key(credential)
        if credential.startswith(TOKEN_PREFIX) and _TOKEN.match(credential):
            with self.uow_factory(readonly=True) as uow:
                token = uow.access.get_token(digest(credential))
                now = uow.now()
                owner = uow.access.get_principal(token.issued_to) if token is not None else None
            if token is None or token.revoked_at is not None or token.expires_at <= now \
                    or owner is None or owner[1] is not None:
                raise _unauthenticated()
            return token.principal
        raise _unauthenticated()

    def token_for_key(self, client_id: str, client_secret: str) -> IssuedToken:
        """OAuth2 client credentials: `client_id` is the key id, `client_secret` the full key."""
        principal = self._by_key(client_secret)
        key = _KEY.match(client_secret)
        if key is None or not hmac.compare_digest(key.group(1), str(client_id)):
            raise _unauthenticated()
        return self._issue(principal.principal_id, principal, TOKEN_TTL)

    def customer_token(self, issuer: Principal, customer_id: str) -> IssuedToken:
        """A storefront (a channel integration) signs a customer in: a short-lived token scoped to that customer.

        The storefront has authenticated the shopper itself; the token lets the shopper's browser call the
        order and chat endpoints for their own orders and nothing else."""
        from engine.domain.access import Permission

        if not issuer.can(Permission.CUSTOMER_SESSIONS):
            raise e.Forbidden("this caller may not sign customers in")
        check_binding(Role.CUSTOMER, customer_id=customer_id, account_code=None, scope=None)
        with self.uow_factory(readonly=True) as uow:
            if uow.master.get_customer(customer_id) is None:
                raise e.ValidationFailed("unknown customer", problems=[e.Problem(
                    e.UnknownCustomer.code, "customer_id", f"customer {customer_id} is not known",
                    "create the customer first")])
        principal = Principal(principal_id=issuer.principal_id, name=f"{customer_id} via {issuer.name}",
                              role=Role.CUSTOMER, customer_id=customer_id)
        return self._issue(issuer.principal_id, principal, CUSTOMER_TOKEN_TTL)

    def session_for_key(self, key: str) -> IssuedToken:
        """A browser signs in with an API key: a working-day token for the dashboard's session cookie."""
        principal = self._by_key(key)
        return self._issue(principal.principal_id, principal, SESSION_TTL)

    def session_for(self, principal_id: str) -> IssuedToken:
        """A session for an active principal, for the sign-in link `orderloom serve` prints on this machine."""
        with self.uow_factory(readonly=True) as uow:
            found = uow.access.get_principal(principal_id)
        if found is None or found[1] is not None:
            raise _unauthenticated()
        return self._issue(principal_id, found[0], SESSION_TTL)

    def find_principal(self, name: str, role: Role) -> Principal | None:
        """The active principal with this name and role, if there is one."""
        with self.uow_factory(readonly=True) as uow:
            for principal, revoked in uow.access.principals():
                if revoked is None and principal.name == name and principal.role is role:
                    return principal
        return None

    def revoke_token(self, token: str) -> bool:
        """End one bearer token (signing out)."""
        if not isinstance(token, str) or not _TOKEN.match(token):
            return False
        with self.uow_factory() as uow:
            done = uow.access.revoke_token(digest(token), uow.now())
            uow.commit()
        return done

    def purge_expired_tokens(self) -> int:
        with self.uow_factory() as uow:
            n = uow.access.purge_tokens(uow.now() - timedelta(days=1))
            uow.commit()
        return n

    # -- internals
    def _by_key(self, credential: str) -> Principal:
        match = _KEY.match(credential) if isinstance(credential, str) else None
        if match is None:
            raise _unauthenticated()
        key_id, secret = match.groups()
        with self.uow_factory(readonly=True) as uow:
            key = uow.access.get_key(key_id)
            owner = uow.access.get_principal(key.principal_id) if key is not None else None
            now = uow.now()
        presented = digest(secret)
        stored = key.secret_hash if key is not None else digest("")  # compare anyway: same work either way
        if not hmac.compare_digest(presented, stored) or key is None or owner is None:
            raise _unauthenticated()
        if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now) \
                or owner[1] is not None:
            raise _unauthenticated()
        return owner[0]

    def _issue(self, issued_to: str, principal: Principal, ttl: timedelta) -> IssuedToken:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.uow_factory() as uow:
            now = uow.now()
            uow.access.add_token(digest(token), StoredToken(issued_to=issued_to, principal=principal, issued_at=now,
                                                            expires_at=now + ttl, revoked_at=None))
            uow.commit()
        return IssuedToken(token, int(ttl.total_seconds()), principal)

    @staticmethod
    def _new_key(uow: AbstractUnitOfWork, principal: Principal, expires_at: datetime | None) -> IssuedKey:
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        uow.access.add_key(StoredKey(key_id=key_id, principal_id=principal.principal_id, secret_hash=digest(secret),
                                     created_at=uow.now(), expires_at=expires_at, revoked_at=None))
        return IssuedKey(principal, key_id, f"{KEY_PREFIX}{key_id}_{secret}")

    @staticmethod
    def _check_exists(uow: AbstractUnitOfWork, role: Role, customer_id: str | None, account_code: str | None,
                      scope: str | None) -> None:
        problems: list[e.Problem] = []
        if customer_id and uow.master.get_customer(customer_id) is None:
            problems.append(e.Problem(e.UnknownCustomer.code, "customer_id", f"customer {customer_id} is not known",
                                      "create the customer first"))
        if account_code and uow.master.get_account(account_code) is None:
            problems.append(e.Problem(e.UnknownAccount.code, "account_code", f"account {account_code} is not known",
                                      "create the account first"))
        if role is Role.INTEGRATION and scope:
            kind, _, value = scope.partition(":")
            known = {"channel": lambda v: uow.master.get_channel(v) is not None,
                     "node": lambda v: uow.master.get_node(v) is not None,
                     "carrier": uow.master.carrier_exists}[kind](value)
            if not known:
                problems.append(e.Problem("access.scope_unknown", "scope", f"{kind} {value} is not known",
                                          f"create the {kind} first"))
        if problems:
            raise e.ValidationFailed("the key's binding names something unknown", problems=problems)
