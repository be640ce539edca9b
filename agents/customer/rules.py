"""The rules reader of customer messages (the fallback when the model is absent or its form is unusable)."""

from __future__ import annotations

import re

from agents.customer.schema import CustomerIntent

_ADDRESS = re.compile(r"(?:\bto|:|^)\s*(?P<line1>\d+[A-Za-z]?\s+[A-Za-z0-9 .'#-]{2,80}?),\s*"
                      r"(?P<city>[A-Za-z .'-]{2,60}),\s*"
                      r"(?P<state>[A-Z]{2})\s+(?P<postal_code>\d{5}(?:-\d{4})?)\b")
_ORDER_NUMBER = re.compile(r"(?:order|#|no\.?|number)\s*#?\s*([A-Za-z0-9][A-Za-z0-9-]{0,39})", re.I)
_BARE = re.compile(r"(?<![\w@.-])(#?\d{1,12}|[A-Z]{1,6}-[A-Z0-9-]{1,30})(?![\w@-])")
_WORDS = re.compile(r"^(?:my|the|it|this|that|is|was|a|an|and|to|for|status)$", re.I)

ADDRESS_WORDS = re.compile(r"\b(address|ship (it )?to|deliver (it )?to|send it to)\b", re.I)


def parse_address(message: str) -> dict[str, str] | None:
    m = _ADDRESS.search(message)
    if m is None:
        return None
    return {k: v.strip() for k, v in m.groupdict().items()}


def order_refs(message: str) -> list[str]:
    """Order numbers or references named in the message, in order (ZIP codes of an address left out)."""
    address = _ADDRESS.search(message)
    text = message[:address.start("line1")] + message[address.end():] if address else message
    refs = [r for r in _ORDER_NUMBER.findall(text) if not _WORDS.match(r) and any(ch.isdigit() for ch in r)]
    refs += [r.lstrip("#") for r in _BARE.findall(text)]
    seen: list[str] = []
    for r in refs:
        if r.lstrip("#") not in seen:
            seen.append(r.lstrip("#"))
    return seen


def read_message(message: str) -> CustomerIntent:
    text = message.lower()
    refs = order_refs(message)
    ref = refs[0] if refs else None
    if re.search(r"\b(where|status|track\w*)\b.*\b(my|the)\s+(return|refund)\b", text) \
            or re.search(r"\b(my|the)\s+(return|refund)\b.*\b(status|arrived?|received|processed|come through|"
                         r"yet)\b", text) \
            or re.search(r"\b(did|have) you (get|got|receive[d]?)\b.*\b(my|the)\s+(return|parcel|package)\b", text):
        return CustomerIntent(intent="where_is", order_ref=ref)  # a return already under way
    if re.search(r"\b(return|send (it|them) back|refund|exchange|swap)\b", text):
        # after "because"/"since" when the customer says it that way, else the whole message: the returns
        # desk reads the reason's taxonomy from the words ("arrived broken", "too small")
        reason = re.sub(r"(?i).*?\b(because|since|as)\b", "", message).strip() if re.search(
            r"(?i)\b(because|since)\b", message) else message.strip()
        return CustomerIntent(intent="start_return", order_ref=ref, reason=reason[:200] or None)
    if ADDRESS_WORDS.search(text) and re.search(
            r"\b(change|update|wrong|different|moved|instead|correct)\b", text):
        return CustomerIntent(intent="change_address", order_ref=ref)
    if re.search(r"\b(when|arrive|arriving|delivery date|eta|how long|get here)\b", text):
        return CustomerIntent(intent="when_arrive", order_ref=ref)
    if re.search(r"\b(where|status|track|tracking|shipped|happen)\b", text) or ref:
        return CustomerIntent(intent="where_is", order_ref=ref)
    if re.search(r"\b(my orders|orders|purchases)\b", text):
        return CustomerIntent(intent="list_orders")
    if re.search(r"\b(help|what can you)\b", text):
        return CustomerIntent(intent="help")
    return CustomerIntent(intent="other")
