"""Credentials for API tests: one principal per (app, name, role, binding), made on first use."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import App


def headers(app: App, name: str = "ops", role: str = "ops_admin", **binding: Any) -> dict[str, str]:
    """An Authorization header for a principal called `name` with `role` (and its binding).

    The keys are kept on the app itself: a module-level cache keyed by `id(app)` handed a closed app's key to a
    new app that happened to get the same id (a 401 in a test that never asked for one)."""
    keys: dict[str, str] = app.__dict__.setdefault("_test_keys", {})
    cache = f"{name}\x00{role}\x00{sorted(binding.items())!r}"
    if cache not in keys:
        keys[cache] = app.access.create_principal(name=name, role=role, created_by="test", **binding).key
    return {"Authorization": f"Bearer {keys[cache]}"}
