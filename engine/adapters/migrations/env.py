"""Alembic environment: runs on the connection Orderloom hands it (see engine.adapters.migrate)."""

from __future__ import annotations

from alembic import context

from engine.adapters.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through engine.adapters.migrate
    raise RuntimeError("run migrations through `orderloom db upgrade`")

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=True,  # SQLite cannot ALTER most things: batch mode copies the table
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
