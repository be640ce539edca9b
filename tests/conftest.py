"""Shared fixtures: fresh SQLite files and a fresh PostgreSQL database, both migrated."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from engine.adapters.database import create_db_engine
from engine.adapters.migrate import upgrade
from engine.adapters.tables import metadata
from engine.bootstrap import App, bootstrap

POSTGRES_ADMIN_URL = os.environ.get("ORDERLOOM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# CI sets this so that a missing server fails the run instead of skipping the PostgreSQL tests.
REQUIRE_POSTGRES = os.environ.get("ORDERLOOM_REQUIRE_POSTGRES", "") == "1"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty SQLite database file of this test's own."""
    path = tmp_path / "orderloom.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


def _admin_engine():  # type: ignore[no-untyped-def]
    return create_db_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped at the end."""
    name = f"orderloom_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = _admin_engine()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (ORDERLOOM_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {exc}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    engine = create_db_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The session's PostgreSQL database, emptied before this test."""
    engine = create_db_engine(postgres_database)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def app(database_url: str) -> Iterator[App]:
    application = bootstrap(database_url=database_url, migrate=False)
    yield application
    application.close()


@pytest.fixture
def realworld_dir() -> Path:
    path = Path(os.environ.get("ORDERLOOM_REALWORLD_DIR", "../shared/realworld"))
    if not path.is_dir():
        if os.environ.get("ORDERLOOM_REQUIRE_REALWORLD", "") == "1":
            pytest.fail(f"the real-world corpus is required but {path} is missing")
        pytest.skip(f"real-world corpus not found at {path}")
    return path


@pytest.fixture(autouse=True)
def _local_files(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Notifications and the webhook secret go to a temporary folder, never the working directory."""
    base = tmp_path_factory.mktemp("local")
    monkeypatch.setenv("ORDERLOOM_MAILDIR", str(base / "mail"))
    monkeypatch.setenv("ORDERLOOM_SECRET_FILE", str(base / "secret.key"))
    monkeypatch.delenv("ORDERLOOM_SMTP_URL", raising=False)
    monkeypatch.delenv("ORDERLOOM_WEBHOOK_SECRET", raising=False)
