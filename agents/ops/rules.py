"""A deterministic reading of ops messages: the baseline, the fallback when the model's form is unusable, and
the check that keeps the model honest (ids must be in the message)."""

from __future__ import annotations

import re

from agents.ops.schema import OpsIntent

ORDER = re.compile(r"\border\s*(?:#|no\.?|number)?\s*(\d{1,12})\b", re.I)
CASE = re.compile(r"\b(?:case|exception)\s*(?:#|no\.?|number)?\s*(\d{1,12})\b", re.I)
BARE_NUMBER = re.compile(r"(?:^|\s)#?(\d{1,12})\b")
SKU = re.compile(r"\b([A-Z]{2,5}-\d{2,6})\b")
CARRIER = re.compile(r"\bcarrier\s+([A-Z][A-Z0-9]{1,15})\b|\b(?:avoid|not|instead of)\s+([A-Z][A-Z0-9]{1,15})\b")
TYPES = {"address": "address", "payment": "payment", "fraud": "payment", "inventory": "inventory",
         "stock": "inventory", "short pick": "inventory", "carrier": "carrier", "catalog": "catalog",
         "price": "price", "pricing": "price", "high value": "high_value", "high-value": "high_value",
         "cold start": "cold_start", "new sku": "cold_start", "duplicate": "duplicate", "milestone": "milestone",
         "overdue": "milestone", "anomal": "anomaly", "intake": "intake", "return": "return", "abuse": "return"}
CHANNELS = {"marketplace": "marketplace", "amazon": "marketplace", "web": "web", "website": "web",
            "mobile": "mobile", "app": "mobile", "pos": "pos", "store": "pos", "edi": "b2b_edi",
            "email": "email"}
ACTIONS = [
    (re.compile(r"\bre-?route\b|\bmove (it|the order) to\b|\bship it from\b", re.I), "reroute"),
    (re.compile(r"\b(swap|switch|change) (the )?carrier\b|\bavoid\b.*\bcarrier\b", re.I), "swap_carrier"),
    (re.compile(r"\bcancel\b", re.I), "cancel"),
    (re.compile(r"\brelease (the )?hold\b|\bunhold\b|\btake (it )?off hold\b", re.I), "release_hold"),
    (re.compile(r"\brelease (it )?to (the )?(warehouse|wms)\b", re.I), "release_to_warehouse"),
    (re.compile(r"\b(put|place|keep) (it |the order )?on hold\b|\bhold (it|the order)\b", re.I), "hold"),
    (re.compile(r"\bdismiss\b|\bfalse alarm\b", re.I), "dismiss"),
    (re.compile(r"\b(approve|apply|accept) (the )?(address )?(fix|correction)\b|\bcorrect (the )?address\b", re.I),
     "correct_address"),
    (re.compile(r"\bsubstitut", re.I), "substitute"),
    (re.compile(r"\bsplit\b|\bin parts\b|\bpartial shipments?\b", re.I), "split_shipment"),
    (re.compile(r"\breprice\b|\bto (the )?list price\b", re.I), "reprice"),
    (re.compile(r"\baccept\b|\bgo ahead\b|\bapprove\b", re.I), "accept"),
    (re.compile(r"\bnotify\b|\btell the customer\b", re.I), "notify_customer"),
]


def read_message(message: str, node_names: dict[str, str]) -> OpsIntent:
    """Intent and entities from the words alone. `node_names` maps lower-case names and cities to node codes."""
    text = " ".join(message.split())
    low = text.lower()
    order = _first(ORDER, text)
    case = _first(CASE, text)
    sku = _first(SKU, text)
    node = next((code for name, code in sorted(node_names.items(), key=lambda x: -len(x[0]))
                 if re.search(rf"\b{re.escape(name)}\b", low)), None)
    etype = next((v for k, v in TYPES.items() if k in low), None)
    channel = next((v for k, v in CHANNELS.items() if re.search(rf"\b{k}\b", low)), None)
    question = re.match(r"\s*(why|what|where|when|who|how|which|is|are|does|did|show|list)\b", low) is not None
    action = None if question else next((name for pattern, name in ACTIONS if pattern.search(text)), None)
    today = bool(re.search(r"\btoday\b|\bsince midnight\b|\bthis morning\b", low))
    if order is None and case is None and (action is not None or question):
        order = _first(BARE_NUMBER, text)  # "cancel 1042", "why did 1042 ship from Dallas?"
    if re.search(r"\bsummar", low) and case:
        intent = "summarise_case"
    elif action is not None and (order or case or re.search(r"\b(it|this|that)\b", low)):
        intent = "propose_action"
    elif re.search(r"\bwhy\b.*\b(ship|route|from|sourc)", low) and (order or re.search(r"\bit\b", low)):
        intent = "why_routed"
    elif order:
        intent = "order_status"
    elif case:
        intent = "case_detail"
    elif sku and re.search(r"\b(stock|inventory|how many|available|atp|on hand)\b", low):
        intent = "inventory"
    elif etype or channel or re.search(r"\b(queue|exceptions?|cases?|escalat|backlog|waiting)\b", low):
        intent = "queue"
    elif re.search(r"\b(help|what can you)\b", low):
        intent = "help"
    else:
        intent = "other"
    reason = None
    if intent == "propose_action":
        m = re.search(r"\b(?:because|since|as|reason:?)\s+(.{3,300})$", text, re.I)
        reason = m.group(1) if m else None
    carrier = _first(CARRIER, text)
    return OpsIntent.model_validate({"intent": intent, "order_id": order, "case_id": case, "exception_type": etype,
                                     "channel": channel, "today": today, "sku": sku, "node": node,
                                     "carrier": carrier, "action": action, "reason": reason})


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return next((g for g in m.groups() if g), None) if m else None


def grounded(intent: OpsIntent, message: str, node_names: dict[str, str]) -> OpsIntent:
    """Keep only entities the message actually contains: a model may not invent an order, case or SKU."""
    text = message.lower()
    digits = set(re.findall(r"\d+", message))
    changes: dict[str, object] = {}
    for name in ("order_id", "case_id"):
        value = getattr(intent, name)
        if value is not None and (not value.isdigit() or value not in digits):
            changes[name] = None
    if intent.sku is not None and intent.sku.lower() not in text:
        changes["sku"] = None
    if intent.node is not None:
        node = intent.node.lower()
        code = node_names.get(node)
        changes["node"] = code if code and (node in text) else None
    if intent.carrier is not None and intent.carrier.lower() not in text:
        changes["carrier"] = None
    # Filters narrow what the person sees: only the ones their words state.
    if intent.exception_type is not None and not any(
            value == intent.exception_type and key in text for key, value in TYPES.items()) \
            and intent.exception_type.replace("_", " ") not in text:
        changes["exception_type"] = None
    if intent.channel is not None and not any(
            value == intent.channel and re.search(rf"\b{key}\b", text) for key, value in CHANNELS.items()):
        changes["channel"] = None
    if intent.today and not re.search(r"\btoday\b|\bsince midnight\b|\bthis morning\b", text):
        changes["today"] = False
    return intent.model_copy(update=changes)
