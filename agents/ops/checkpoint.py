"""Where the ops assistant keeps its conversations (and the proposals they wait on) across restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from engine.settings import Settings, get_settings

SCHEMA = "ops_conversations"


def make_checkpointer(settings: Settings | None = None, *, path: str | Path | None = None) -> BaseCheckpointSaver[Any]:
    """SQLite next to the embedded database by default; PostgreSQL (the engine's own database, schema
    `ops_conversations`) when the engine runs on PostgreSQL (langgraph-checkpoint-postgres, the `postgres`
    extra)."""
    settings = settings or get_settings()
    url = settings.database_url
    if path is None and url.startswith("postgresql"):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import dict_row

        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        # In a schema of their own: the system of record's tables (and its migrations) stay as they are.
        with Connection.connect(conninfo, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
        conn = Connection.connect(conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row,
                                  options=f"-c search_path={SCHEMA}")
        saver = PostgresSaver(conn)
        saver.setup()
        return saver
    if path is None:
        db = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else "orderloom.db"
        if url in ("sqlite://", "sqlite:///:memory:"):  # an in-memory engine keeps its conversations in memory
            db = ":memory:"
        path = Path(db).with_name(Path(db).stem + "-conversations.db") if db != ":memory:" else ":memory:"
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn_sqlite = sqlite3.connect(str(path), check_same_thread=False)
    saver_sqlite = SqliteSaver(conn_sqlite)
    saver_sqlite.setup()
    return saver_sqlite
