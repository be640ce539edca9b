"""Carrier tracking: each carrier's webhook dialect mapped to one set of normalised statuses.

Carriers speak their own codes (a UPS-style activity letter, a FedEx-style two-letter code, a USPS-style
numeric event). `parse_webhook` reads one carrier's payload into `TrackingUpdate`s with a normalised
`TrackingStatus`; anything it cannot read is a ValidationFailed naming the field. Pure: no I/O.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from engine.domain.errors import Problem, ValidationFailed


class TrackingStatus(enum.StrEnum):
    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    RETURNED = "returned"


T = TrackingStatus
# Statuses a person (or the customer) should hear about: the parcel is not moving as promised.
TROUBLE = frozenset({T.DELAYED, T.FAILED_ATTEMPT, T.EXCEPTION, T.RETURNED})
CUSTOMER_WORDS = {
    T.LABEL_CREATED: "packed, waiting for the carrier", T.PICKED_UP: "picked up by the carrier",
    T.IN_TRANSIT: "in transit", T.OUT_FOR_DELIVERY: "out for delivery", T.DELIVERED: "delivered",
    T.DELAYED: "delayed in transit", T.FAILED_ATTEMPT: "a delivery attempt failed",
    T.EXCEPTION: "held up in the carrier's network", T.RETURNED: "being returned to us",
}


@dataclass(frozen=True)
class Dialect:
    """How one carrier's webhook is shaped: the list key, its field names and its status codes."""

    name: str
    events_key: str
    tracking_key: str
    id_key: str
    code_key: str
    time_key: str
    eta_key: str
    description_key: str
    location_key: str
    codes: dict[str, TrackingStatus]


# A UPS-style activity letter, a FedEx-style two-letter code, a USPS-style event number; and the
# engine's own statuses for carriers without a dialect of their own.
DIALECTS: dict[str, Dialect] = {
    "activity": Dialect("activity", "activity", "trackingNumber", "activityId", "statusType", "dateTime",
                        "deliveryDate", "statusDescription", "location",
                        {"M": T.LABEL_CREATED, "P": T.PICKED_UP, "I": T.IN_TRANSIT, "O": T.OUT_FOR_DELIVERY,
                         "D": T.DELIVERED, "X": T.EXCEPTION, "DL": T.DELAYED, "RS": T.RETURNED,
                         "NA": T.FAILED_ATTEMPT}),
    "scan": Dialect("scan", "scanEvents", "trackingNumber", "eventId", "eventType", "date",
                    "estimatedDeliveryDate", "eventDescription", "scanLocation",
                    {"OC": T.LABEL_CREATED, "PU": T.PICKED_UP, "IT": T.IN_TRANSIT, "AR": T.IN_TRANSIT,
                     "DP": T.IN_TRANSIT, "OD": T.OUT_FOR_DELIVERY, "DL": T.DELIVERED, "DY": T.DELAYED,
                     "DE": T.EXCEPTION, "CA": T.EXCEPTION, "RS": T.RETURNED, "DA": T.FAILED_ATTEMPT}),
    "numeric": Dialect("numeric", "events", "tracking_id", "event_id", "event_code", "event_time",
                       "expected_delivery", "event", "event_city",
                       {"GX": T.LABEL_CREATED, "03": T.PICKED_UP, "10": T.IN_TRANSIT, "07": T.IN_TRANSIT,
                        "OF": T.OUT_FOR_DELIVERY, "01": T.DELIVERED, "02": T.FAILED_ATTEMPT, "53": T.FAILED_ATTEMPT,
                        "04": T.EXCEPTION, "05": T.DELAYED, "09": T.RETURNED, "21": T.RETURNED}),
    "orderloom": Dialect("orderloom", "events", "tracking_number", "event_id", "status", "occurred_at",
                         "estimated_delivery", "description", "location", {s.value: s for s in TrackingStatus}),
}
# The demo network's carriers and their dialects; any other carrier sends the engine's own statuses.
CARRIER_DIALECTS = {"NPX": "activity", "SWF": "scan", "RDG": "numeric"}
MAX_EVENTS = 500
_TRACKING = re.compile(r"^[A-Za-z0-9-]{4,64}$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


def dialect_for(carrier: str) -> Dialect:
    return DIALECTS[CARRIER_DIALECTS.get(carrier, "orderloom")]


@dataclass(frozen=True)
class TrackingUpdate:
    carrier: str
    tracking_number: str
    event_key: str
    status: TrackingStatus
    carrier_code: str
    occurred_at: datetime
    estimated_delivery: date | None = None
    description: str = ""
    location: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"carrier": self.carrier, "tracking_number": self.tracking_number, "event_key": self.event_key,
                "status": self.status.value, "carrier_code": self.carrier_code,
                "occurred_at": self.occurred_at.isoformat(),
                "estimated_delivery": self.estimated_delivery.isoformat() if self.estimated_delivery else None,
                "description": self.description, "location": self.location}


def _text(value: object, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        value = ", ".join(str(v) for v in value.values() if isinstance(v, (str, int)))
    text = "".join(ch for ch in str(value) if ch.isprintable())
    return text[:limit]


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _day(value: object) -> date | bool | None:
    """A date, None when absent, False when present but unreadable."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 40:
        return False
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return False


def parse_webhook(carrier: str, payload: object, *, now: datetime | None = None) -> list[TrackingUpdate]:
    """Every event in one carrier webhook body, normalised; ValidationFailed lists each unreadable field."""
    d = dialect_for(carrier)
    if not isinstance(payload, dict):
        raise ValidationFailed("the webhook body must be a JSON object", problems=[
            Problem("tracking.body_invalid", "body", "not a JSON object", f"send the {d.name} webhook format")])
    tracking = payload.get(d.tracking_key)
    events = payload.get(d.events_key)
    problems: list[Problem] = []
    if not isinstance(tracking, str) or not _TRACKING.match(tracking):
        problems.append(Problem("tracking.number_invalid", d.tracking_key, "missing or malformed tracking number",
                                "4-64 letters, digits or dashes"))
    if not isinstance(events, list) or not events:
        problems.append(Problem("tracking.events_missing", d.events_key, "no events in the webhook",
                                f"send {d.events_key} as a non-empty list"))
    elif len(events) > MAX_EVENTS:
        problems.append(Problem("tracking.too_many_events", d.events_key, f"more than {MAX_EVENTS} events",
                                "send fewer events per call"))
    if problems:
        raise ValidationFailed("the tracking webhook is not readable", problems=problems)
    assert isinstance(tracking, str) and isinstance(events, list)
    limit = (now or datetime.now(UTC))
    out: list[TrackingUpdate] = []
    for i, ev in enumerate(events):
        at = f"{d.events_key}[{i}]"
        if not isinstance(ev, dict):
            problems.append(Problem("tracking.event_invalid", at, "an event must be an object", "see the format"))
            continue
        event_id, code = ev.get(d.id_key), ev.get(d.code_key)
        when, eta = _when(ev.get(d.time_key)), _day(ev.get(d.eta_key))
        if not isinstance(event_id, (str, int)) or not _EVENT_ID.match(str(event_id)):
            problems.append(Problem("tracking.event_id_invalid", f"{at}.{d.id_key}", "missing or malformed event id",
                                    "the carrier's unique id of the scan"))
        if not isinstance(code, str) or code not in d.codes:
            problems.append(Problem("tracking.code_unknown", f"{at}.{d.code_key}",
                                    f"unknown status code {_text(code, 20)!r}",
                                    "one of " + ", ".join(sorted(d.codes))))
        if when is None:
            problems.append(Problem("tracking.time_invalid", f"{at}.{d.time_key}",
                                    "missing time or time without a zone", "ISO 8601 with offset"))
        elif (when - limit).total_seconds() > 3600:
            problems.append(Problem("tracking.time_in_future", f"{at}.{d.time_key}", "the scan is in the future",
                                    "send the time the scan happened"))
        if eta is False:
            problems.append(Problem("tracking.eta_invalid", f"{at}.{d.eta_key}", "unreadable delivery date",
                                    "YYYY-MM-DD"))
        if problems:
            continue
        assert isinstance(code, str) and when is not None and eta is not False
        out.append(TrackingUpdate(carrier=carrier, tracking_number=tracking, event_key=str(event_id),
                                  status=d.codes[code], carrier_code=code, occurred_at=when.astimezone(UTC),
                                  estimated_delivery=eta if isinstance(eta, date) else None,
                                  description=_text(ev.get(d.description_key), 300),
                                  location=_text(ev.get(d.location_key), 120)))
    if problems:
        raise ValidationFailed("the tracking webhook has unreadable events; none were recorded", problems=problems)
    return sorted(out, key=lambda u: u.occurred_at)


def carrier_payload(carrier: str, tracking_number: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Build a webhook body in `carrier`'s dialect from normalised events (the simulator and tests use it).

    Each event: event_id, status (a TrackingStatus value), occurred_at (datetime), optionally
    estimated_delivery (date), description, location."""
    d = dialect_for(carrier)
    by_status: dict[TrackingStatus, str] = {}
    for code, status in d.codes.items():
        by_status.setdefault(status, code)
    return {d.tracking_key: tracking_number, d.events_key: [
        {d.id_key: ev["event_id"], d.code_key: by_status[TrackingStatus(ev["status"])],
         d.time_key: ev["occurred_at"].isoformat(),
         d.eta_key: ev["estimated_delivery"].isoformat() if ev.get("estimated_delivery") else None,
         d.description_key: ev.get("description", ""), d.location_key: ev.get("location", "")}
        for ev in events]}
