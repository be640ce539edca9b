"""Where the ops assistant keeps its conversations (and the proposals they wait on) across restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from engine.settings import Settings, get_settings


def make_checkpointer(settings: Settings | None = None, *, path: str | Path | None = None) -> BaseCheckpointSaver[Any]:
    """SQLite next to the embedded database by default; PostgreSQL (the engine's own database) when the engine
    runs on PostgreSQL and langgraph-checkpoint-postgres is installed (the `postgres` extra)."""
    settings = settings or get_settings()
    url = settings.database_url
    if path is None and url.startswith("postgresql"):
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg import Connection
        from psycopg.rows import dict_row

        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        conn = Connection.connect(conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        saver = PostgresSaver(conn)
        saver.setup()
        return saver
    if path is None:
        db = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else "orderloom.db"
        path = Path(db).with_name(Path(db).stem + "-conversations.db") if db != ":memory:" else ":memory:"
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn_sqlite = sqlite3.connect(str(path), check_same_thread=False)
    saver_sqlite = SqliteSaver(conn_sqlite)
    saver_sqlite.setup()
    return saver_sqlite
