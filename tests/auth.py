"""Credentials for API tests: one principal per (engine, name), made on first use."""

from __future__ import annotations

from typing import Any

from engine.bootstrap import App

_KEYS: dict[tuple[int, str, str], str] = {}


def headers(app: App, name: str = "ops", role: str = "ops_admin", **binding: Any) -> dict[str, str]:
    """An Authorization header for a principal called `name` with `role` (and its binding)."""
    cache = (id(app), name, role + repr(sorted(binding.items())))
    if cache not in _KEYS:
        _KEYS[cache] = app.access.create_principal(name=name, role=role, created_by="test", **binding).key
    return {"Authorization": f"Bearer {_KEYS[cache]}"}
