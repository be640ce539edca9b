"""The Alembic migrations build exactly the schema the code declares, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from engine.adapters.database import create_db_engine
from engine.adapters.migrate import current_revision, head_revision
from engine.adapters.tables import metadata


def test_migrated_schema_matches_the_declared_tables(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        assert current_revision(engine) == head_revision()
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
        assert diff == [], f"migrations and engine/adapters/tables.py disagree: {diff}"
    finally:
        engine.dispose()
