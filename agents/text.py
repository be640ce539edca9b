"""Text hygiene shared by the assistants."""

from __future__ import annotations


def clean(message: str, limit: int) -> str:
    """A person's message as the graphs take it: control characters (except newline and tab) become spaces,
    cut to `limit` characters."""
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in str(message))
    return text[:limit]
