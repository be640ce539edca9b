"""SQL side of access control: principals, API keys and bearer tokens (hashes only, never the secrets)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from engine.adapters import tables as t
from engine.adapters.repositories import aware
from engine.domain.access import Principal, Role
from engine.services.ports import AccessRepository, StoredKey, StoredToken

_PR = t.principals.c
_K = t.api_keys.c
_T = t.access_tokens.c


def _principal(row: Any, id_column: str = "principal_id") -> Principal:
    return Principal(principal_id=row[id_column], name=row["name"], role=Role(row["role"]),
                     customer_id=row["customer_id"], account_code=row["account_code"], scope=row["scope"])


def _key(row: Any) -> StoredKey:
    return StoredKey(key_id=row["key_id"], principal_id=row["principal_id"], secret_hash=row["secret_hash"],
                     created_at=aware(row["created_at"]), expires_at=aware(row["expires_at"]),  # type: ignore[arg-type]
                     revoked_at=aware(row["revoked_at"]))


class SqlAccessRepository(AccessRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_principal(self, principal: Principal, created_by: str, at: datetime) -> None:
        self.conn.execute(insert(t.principals).values(
            principal_id=principal.principal_id, name=principal.name, role=principal.role.value,
            customer_id=principal.customer_id, account_code=principal.account_code, scope=principal.scope,
            created_by=created_by, created_at=at, revoked_at=None))

    def get_principal(self, principal_id: str) -> tuple[Principal, datetime | None] | None:
        row = self.conn.execute(select(t.principals).where(_PR.principal_id == principal_id)).mappings().first()
        return None if row is None else (_principal(row), aware(row["revoked_at"]))

    def principals(self) -> list[tuple[Principal, datetime | None]]:
        rows = self.conn.execute(select(t.principals).order_by(_PR.created_at)).mappings().all()
        return [(_principal(r), aware(r["revoked_at"])) for r in rows]

    def revoke_principal(self, principal_id: str, at: datetime) -> bool:
        done = self.conn.execute(update(t.principals).where(_PR.principal_id == principal_id,
                                                            _PR.revoked_at.is_(None)).values(revoked_at=at))
        return bool(done.rowcount)

    def add_key(self, key: StoredKey) -> None:
        self.conn.execute(insert(t.api_keys).values(
            key_id=key.key_id, principal_id=key.principal_id, secret_hash=key.secret_hash,
            created_at=key.created_at, expires_at=key.expires_at, revoked_at=None, last_used_at=None))

    def get_key(self, key_id: str) -> StoredKey | None:
        row = self.conn.execute(select(t.api_keys).where(_K.key_id == key_id)).mappings().first()
        return None if row is None else _key(row)

    def keys_of(self, principal_id: str) -> list[StoredKey]:
        rows = self.conn.execute(select(t.api_keys).where(_K.principal_id == principal_id)
                                 .order_by(_K.created_at)).mappings().all()
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: str, at: datetime) -> bool:
        done = self.conn.execute(update(t.api_keys).where(_K.key_id == key_id, _K.revoked_at.is_(None))
                                 .values(revoked_at=at))
        return bool(done.rowcount)

    def add_token(self, token_hash: str, token: StoredToken) -> None:
        p = token.principal
        self.conn.execute(insert(t.access_tokens).values(
            token_hash=token_hash, issued_to=token.issued_to, name=p.name, role=p.role.value,
            customer_id=p.customer_id, account_code=p.account_code, scope=p.scope, issued_at=token.issued_at,
            expires_at=token.expires_at, revoked_at=None))

    def get_token(self, token_hash: str) -> StoredToken | None:
        row = self.conn.execute(select(t.access_tokens).where(_T.token_hash == token_hash)).mappings().first()
        if row is None:
            return None
        principal = Principal(principal_id=row["issued_to"], name=row["name"], role=Role(row["role"]),
                              customer_id=row["customer_id"], account_code=row["account_code"], scope=row["scope"])
        return StoredToken(issued_to=row["issued_to"], principal=principal, issued_at=aware(row["issued_at"]),  # type: ignore[arg-type]
                           expires_at=aware(row["expires_at"]), revoked_at=aware(row["revoked_at"]))  # type: ignore[arg-type]

    def revoke_token(self, token_hash: str, at: datetime) -> bool:
        done = self.conn.execute(update(t.access_tokens).where(_T.token_hash == token_hash,
                                                               _T.revoked_at.is_(None)).values(revoked_at=at))
        return bool(done.rowcount)

    def revoke_tokens_of(self, principal_id: str, at: datetime) -> int:
        done = self.conn.execute(update(t.access_tokens).where(_T.issued_to == principal_id,
                                                               _T.revoked_at.is_(None)).values(revoked_at=at))
        return int(done.rowcount)

    def purge_tokens(self, before: datetime) -> int:
        return int(self.conn.execute(delete(t.access_tokens).where(_T.expires_at < before)).rowcount)
