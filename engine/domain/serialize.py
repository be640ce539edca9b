"""Plain JSON-ready values from domain objects (dataclasses, enums, dates, decimals)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any


def to_plain(value: Any) -> Any:
    """Dataclasses become dicts, sequences lists, dates ISO strings, anything else its str()."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
