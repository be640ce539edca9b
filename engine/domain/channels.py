"""Sales channels, per-channel caps (flash sales) and stock protected for priority channels."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class ChannelKind(enum.StrEnum):
    WEB = "web"
    MARKETPLACE = "marketplace"
    POS = "pos"
    MOBILE = "mobile"
    B2B_EDI = "b2b_edi"
    EMAIL = "email"


@dataclass
class Channel:
    """A place orders come from. `priority` channels may draw on protected stock."""

    code: str
    name: str
    kind: ChannelKind
    priority: bool = False
    active: bool = True


@dataclass(frozen=True)
class ChannelCap:
    """At most `cap` units of `sku` may be committed to `channel` inside the window.

    Committed means reserved or shipped; a release or cancellation gives the units back.
    """

    channel: str
    sku: str
    cap: int
    used: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.cap - self.used)

    def active_at(self, now: datetime) -> bool:
        if self.starts_at and now < self.starts_at:
            return False
        return not (self.ends_at and now >= self.ends_at)
