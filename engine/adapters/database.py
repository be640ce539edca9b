"""Engine creation: SQLite (WAL, BEGIN IMMEDIATE for writes) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

READ_ONLY = "orderloom_read_only"


def normalise_url(url: str | URL) -> URL:
    """Accept postgres://, postgresql:// and sqlite URLs; use psycopg 3 for PostgreSQL."""
    u = make_url(url) if isinstance(url, str) else url
    if u.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+psycopg")
    return u


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_db_engine(url: str | URL, *, pool_size: int = 5, echo: bool = False) -> Engine:
    u = normalise_url(url)
    if u.get_backend_name() == "sqlite":
        return _sqlite_engine(u, echo=echo)
    if u.get_backend_name() != "postgresql":
        raise ValueError(f"unsupported database {u.get_backend_name()!r}: use sqlite:/// or postgresql://")
    # No pre-ping: it costs a round trip per transaction. A connection the server dropped fails its
    # statement, SQLAlchemy invalidates the pool, and the bus retries once on a fresh connection.
    return create_engine(u, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800, echo=echo)


def _sqlite_engine(u: URL, *, echo: bool) -> Engine:
    if u.database and u.database != ":memory:":
        Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(u, echo=echo, connect_args={"check_same_thread": False, "timeout": 60},
                           poolclass=NullPool if u.database in (None, "", ":memory:") else None)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so that we can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a power cut may lose the last commits, never corrupts the file.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: no deadlock-prone lock upgrades, no SQLITE_BUSY
        # half-way through a reservation. Readers use a deferred transaction and never block.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
