"""Parse US addresses and check addresses against an offline ZIP database and postal-code formats.

`parse_us_address(text)` splits a one-line or multi-line US address into its parts with `usaddress`
(a conditional random field trained on hand-labelled addresses; MIT). When the model gives one label
to two separate parts of the text (two cities, two ZIPs) the parse is reported as ambiguous and those
fields are left empty: they are never guessed.

`validate_address(address, country)` checks a structured address. US addresses (and PR, GU, VI, AS,
MP, military AA/AE/AP, which use US ZIPs) are checked against the ZIP database of the `zipcodes`
package (see `address_zipdb` for why that one): ZIP form, ZIP exists, ZIP's state = state, city is
one USPS accepts for the ZIP. Other countries are checked against their postal-code format
(`address_countries`). Every problem is an engine `Problem` with a stable code; the US ones:

    address.missing             a required field is empty
    address.field_type          a field is not text
    address.too_long            a field is longer than any real one (200 characters)
    address.country_unknown     the country is neither an ISO code nor a name in the table
    address.state_unknown       not a US state, territory or military state code or name
    address.zip_format          not 99999 or 99999-9999
    address.unknown_zip         well formed but not a ZIP USPS uses
    address.zip_state_mismatch  the ZIP belongs to another state
    address.city_mismatch       the city is not a name USPS accepts for the ZIP
    address.postal_format       (non-US) the postal code does not have the country's form

Warnings (the address stays valid): address.city_alias (a name USPS knows for the ZIP but asks not
to use, "Manhattan" for 10001), address.zip_inactive, address.po_box_zip (a street address on a
PO-box-only ZIP: UPS and FedEx cannot deliver), address.country_unlisted (an ISO-shaped code not in
the table, postal code unchecked), address.characters_replaced (control or look-alike characters were
replaced). ZIP+4 is checked for form only: no free offline data set has the +4 ranges.

Confidence. Spellings that mean the same place ("Ft Payne" and "Fort Payne", "St. Louis" and
"Saint Louis", "McLeansboro" and "Mc Leansboro") are equal before anything is compared, so they
need no correction. Each problem collects the candidate fixes that would resolve it, each with an
evidence score s in (0, 1]:

    0.97  a USPS alias to its preferred name ("Manhattan" -> "New York", a warning only)
    0.97  a dropped leading zero restored ("2903" -> "02903") when ZIP, state and city agree;
          0.95 when only the state agrees
    0.95  the state from the ZIP when the city agrees with the ZIP (two fields against one); also
          a missing city from the ZIP
    0.90  a missing state from the ZIP alone
    1-0.05d  a city within edit distance d of a name USPS accepts for the ZIP (d <= 1, 2 or 3 by
          length), the ZIP and state agreeing with each other
    0.85  the state from the ZIP when the city is such a near spelling of the ZIP's city
    0.92  a ZIP one edit away (a digit changed, added, dropped or two swapped) that serves the
          given city and state
    0.90  each ZIP of the given city and state when it has at most 3 (street ZIPs only: PO-box
          and unique ZIPs left out); none are proposed for a city with more
    0.50  the ZIP's city when the given city is nowhere near it (someone must look)

and its confidence is s * s / (sum of s over the problem's candidates): a lone candidate keeps its
score, two equally good ones get under half each. Callers should treat a correction with
`confidence >= AUTO_CORRECT_CONFIDENCE` (0.9) as the one confident candidate and may apply it without
asking; `Correction.auto_applicable` says so. At most one candidate per problem can reach 0.9, and
only when its rivals' scores add up to under about a tenth of its own. Measured on the usaddress
corpus with one mistake planted in each of 772 clean addresses (2,400 mistakes: city typos, wrong
states, a ZIP digit changed, leading zeros dropped): 1,909 got an auto-applicable correction and
every one was right; the rest were left to a person (tests/realworld/test_address_corpus.py).

Speed (2-core dev machine, after the ZIP database's one-off lazy load of about 0.9 s): a valid US
address checks in about 17 microseconds, a wrong one with its candidates in 25-170 microseconds (the
most for a bad ZIP in a city with 100+ ZIPs), a non-US one in about 11; parsing one line with
usaddress takes about 0.2 ms.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import usaddress  # type: ignore[import-untyped,unused-ignore]

from engine.domain.errors import Problem
from engine.intake.address_countries import (
    COUNTRIES,
    NO_POSTAL_CODE,
    POSTAL_FORMATS,
    US_ZIP_COUNTRIES,
    looks_like_country_code,
    normalise_country,
)
from engine.intake.address_zipdb import US_STATES, ZipDatabase, ZipEntry, get_zip_database, place_key

AUTO_CORRECT_CONFIDENCE = 0.9
MAX_FIELD_LENGTH = 200
MAX_ADDRESS_LENGTH = 500

# ---------------------------------------------------------------------------------------------
# US states, territories and military "states"

_STATE_ABBREVIATIONS = {
    "ALA": "AL", "ARIZ": "AZ", "ARK": "AR", "CALIF": "CA", "CAL": "CA", "COLO": "CO", "CONN": "CT",
    "DEL": "DE", "D C": "DC", "WASHINGTON DC": "DC", "WASHINGTON D C": "DC", "FLA": "FL", "ILL": "IL",
    "IND": "IN", "KANS": "KS", "KAN": "KS", "MASS": "MA", "MICH": "MI", "MINN": "MN", "MISS": "MS",
    "NEBR": "NE", "NEB": "NE", "NEV": "NV", "OKLA": "OK", "ORE": "OR", "OREG": "OR", "PENN": "PA",
    "PENNA": "PA", "TENN": "TN", "TEX": "TX", "WASH": "WA", "WIS": "WI", "WISC": "WI", "WYO": "WY",
    "N C": "NC", "S C": "SC", "N D": "ND", "S D": "SD", "N Y": "NY", "N J": "NJ", "N H": "NH",
    "N M": "NM", "W VA": "WV", "VIRGIN ISLANDS US": "VI", "US VIRGIN ISLANDS": "VI",
}


def _state_index() -> dict[str, str]:
    index = {code: code for code in US_STATES}
    index.update({name.upper(): code for code, name in US_STATES.items()})
    index.update(_STATE_ABBREVIATIONS)
    return index


_STATE_INDEX = _state_index()


def normalise_state(value: str) -> str | None:
    """The two-letter USPS code for a state code, name or common abbreviation; None if unknown."""
    key = " ".join(re.sub(r"[^A-Za-z]+", " ", value).upper().split())
    return _STATE_INDEX.get(key)


# ---------------------------------------------------------------------------------------------
# Cleaning text: control characters, look-alikes, width variants

# Letters from other scripts that look like Latin ones; NFKC leaves them alone.
_LOOKALIKES = str.maketrans({
    "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H", "\u041e": "O",
    "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0425": "X", "\u0430": "a", "\u0435": "e", "\u043e": "o",
    "\u0440": "p", "\u0441": "c", "\u0445": "x", "\u0443": "y", "\u0456": "i", "\u0406": "I", "\u0455": "s",
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I", "\u039a": "K",
    "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T", "\u03a5": "Y", "\u03a7": "X",
    "\u03bf": "o", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
})


@dataclass(frozen=True)
class _Cleaned:
    text: str
    replaced: bool


def _clean(text: str, *, keep_newlines: bool = False) -> _Cleaned:
    """NFKC (full-width digits to ASCII), look-alikes to Latin, control and format characters dropped."""
    if text.isascii() and text.isprintable():
        return _Cleaned(" ".join(text.split()), False)
    normal = unicodedata.normalize("NFKC", text)
    swapped = normal.translate(_LOOKALIKES)
    replaced = swapped != normal
    out: list[str] = []
    for ch in swapped:
        category = unicodedata.category(ch)
        if ch in "\r\n" and keep_newlines:
            out.append("\n")
        elif category == "Cf":  # zero-width spaces, joiners, BOMs, soft hyphens: invisible, so dropped
            replaced = True
        elif category in ("Cc", "Zl", "Zp", "Cs", "Co", "Cn"):
            replaced = replaced or ch not in "\t\r\n"
            out.append(" ")
        else:
            out.append(ch)
    joined = "".join(out)
    if keep_newlines:
        lines = (" ".join(line.split()) for line in joined.split("\n"))
        return _Cleaned("\n".join(line for line in lines if line), replaced)
    return _Cleaned(" ".join(joined.split()), replaced)


# ---------------------------------------------------------------------------------------------
# Parsing

_ZIP_RE = re.compile(r"(\d{5})(?:\s*-\s*|\s+)?(\d{4})?")


@dataclass(frozen=True)
class ParsedAddress:
    """A US address split into its parts. Fields the model could not decide on are empty."""

    street_number: str = ""
    street_predirection: str = ""
    street_pretype: str = ""
    street_name: str = ""
    street_type: str = ""
    street_postdirection: str = ""
    unit_type: str = ""
    unit_id: str = ""
    building: str = ""
    po_box: str = ""
    recipient: str = ""
    city: str = ""
    state: str = ""  # the two-letter code when the text names a known state, else as written
    zip5: str = ""  # five digits; as written when malformed, with an address.zip_format problem
    zip4: str = ""
    country: str = ""
    address_type: str = "Ambiguous"  # Street Address, PO Box, Intersection or Ambiguous
    ambiguous: bool = False
    problems: tuple[Problem, ...] = ()
    tokens: tuple[tuple[str, str], ...] = ()  # (token, usaddress label), for audit

    @property
    def line1(self) -> str:
        if self.po_box:
            return f"PO Box {self.po_box}"
        parts = (self.street_number, self.street_predirection, self.street_pretype, self.street_name,
                 self.street_type, self.street_postdirection)
        return " ".join(p for p in parts if p)

    @property
    def line2(self) -> str:
        return " ".join(p for p in (self.unit_type, self.unit_id) if p)

    @property
    def postal_code(self) -> str:
        return f"{self.zip5}-{self.zip4}" if self.zip4 else self.zip5

    def to_address_fields(self) -> dict[str, str]:
        """The fields `validate_address` and `engine.domain.orders.Address` take."""
        return {"line1": self.line1, "line2": self.line2, "city": self.city, "state": self.state,
                "postal_code": self.postal_code, "country": "US"}


# usaddress label -> ParsedAddress field. Labels not listed (NotAddress, LandmarkName, CornerOf...)
# are kept in `tokens` only.
_LABEL_FIELDS = {
    "AddressNumberPrefix": "street_number", "AddressNumber": "street_number",
    "AddressNumberSuffix": "street_number", "StreetNamePreModifier": "street_name",
    "StreetNamePreDirectional": "street_predirection", "StreetNamePreType": "street_pretype",
    "StreetName": "street_name", "StreetNamePostType": "street_type",
    "StreetNamePostDirectional": "street_postdirection", "OccupancyType": "unit_type",
    "SubaddressType": "unit_type", "OccupancyIdentifier": "unit_id", "SubaddressIdentifier": "unit_id",
    "BuildingName": "building", "USPSBoxID": "po_box", "USPSBoxGroupID": "po_box", "Recipient": "recipient",
    "PlaceName": "city", "StateName": "state", "ZipCode": "zip5", "CountryName": "country",
}


def _problem(code: str, field_name: str, message: str, fix: str = "", **data: Any) -> Problem:
    return Problem(code=code, field=field_name, message=message, fix=fix, data=data)


def _strip_token(token: str) -> str:
    return token.strip().strip(",;").strip()


def parse_us_address(text: object) -> ParsedAddress:
    """Split a US address (one line, or several separated by newlines) into its parts.

    Never raises for bad input: empty, over-long or non-text input gives an empty result whose
    `problems` say why; an ambiguous parse sets `ambiguous` and leaves the contested fields empty.
    """
    if isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text):
        text = "\n".join(text)
    if not isinstance(text, str):
        return ParsedAddress(problems=(_problem(
            "address.field_type", "text", f"expected the address as text, got {type(text).__name__}",
            "pass the address as a string"),))
    if len(text) > MAX_ADDRESS_LENGTH * 4:
        return ParsedAddress(problems=(_problem(
            "address.too_long", "text", f"{len(text)} characters is longer than any address",
            f"send at most {MAX_ADDRESS_LENGTH} characters", length=len(text)),))
    cleaned = _clean(text, keep_newlines=True)
    one_line = ", ".join(cleaned.text.split("\n"))
    problems: list[Problem] = []
    if cleaned.replaced:
        problems.append(_problem("address.characters_replaced", "text",
                                 "control or look-alike characters were replaced before parsing"))
    if not any(ch.isalnum() for ch in one_line):
        return ParsedAddress(problems=(*problems, _problem("address.missing", "text", "the address is empty",
                                                           "send the street, city, state and ZIP")))
    if len(one_line) > MAX_ADDRESS_LENGTH:
        return ParsedAddress(problems=(*problems, _problem(
            "address.too_long", "text", f"{len(one_line)} characters is longer than any address",
            f"send at most {MAX_ADDRESS_LENGTH} characters", length=len(one_line))))
    tokens = tuple((tok, label) for tok, label in usaddress.parse(one_line))
    return _assemble(tokens, problems)


def _runs(tokens: tuple[tuple[str, str], ...]) -> list[tuple[str, list[str]]]:
    """Consecutive tokens with the same label, as (label, tokens)."""
    runs: list[tuple[str, list[str]]] = []
    for token, label in tokens:
        if runs and runs[-1][0] == label:
            runs[-1][1].append(token)
        else:
            runs.append((label, [token]))
    return runs


def _assemble(tokens: tuple[tuple[str, str], ...], problems: list[Problem]) -> ParsedAddress:
    values: dict[str, list[str]] = {}
    label_runs: dict[str, list[str]] = {}
    for label, run in _runs(tokens):
        words = [w for w in (_strip_token(t) for t in run) if w]
        if not words:
            continue
        label_runs.setdefault(label, []).append(" ".join(words))
    contested: set[str] = set()
    for label, runs in label_runs.items():
        target = _LABEL_FIELDS.get(label)
        if target is None:
            continue
        if len(runs) > 1 and label not in ("StreetNamePreDirectional", "Recipient"):
            contested.add(target)
            problems.append(_problem(
                "address.ambiguous", target, f"the text has {len(runs)} candidates for {label}: "
                + "; ".join(repr(r) for r in runs[:5]), "send the address with one value per part",
                label=label, candidates=runs[:20]))
            continue
        values.setdefault(target, []).append(" ".join(runs))
    fields = {name: " ".join(parts) for name, parts in values.items() if name not in contested}
    if "zip5" in fields:
        zip_text = fields.pop("zip5")
        match = _ZIP_RE.fullmatch(zip_text)
        if match:
            fields["zip5"], fields["zip4"] = match.group(1), match.group(2) or ""
        else:
            fields["zip5"] = zip_text
            problems.append(_problem("address.zip_format", "zip5", f"{zip_text!r} is not a ZIP or ZIP+4",
                                     "write 5 digits, optionally -4 digits"))
    if "state" in fields:
        fields["state"] = normalise_state(fields["state"]) or fields["state"]
    if "po_box" in fields:
        address_type = "PO Box"
    elif "street_number" in fields and "street_name" in fields:
        address_type = "Street Address"
    elif any(label == "IntersectionSeparator" for _, label in tokens):
        address_type = "Intersection"
    else:
        address_type = "Ambiguous"
    return ParsedAddress(**fields, address_type=address_type, ambiguous=bool(contested),
                         problems=tuple(problems), tokens=tokens)


# ---------------------------------------------------------------------------------------------
# Validation

@dataclass(frozen=True)
class Correction:
    """A proposed new value for one field, with how sure we are (see the module docstring)."""

    field: str
    current: str
    proposed: str
    confidence: float
    reason: str
    code: str = ""  # the problem this correction would resolve

    @property
    def auto_applicable(self) -> bool:
        return self.confidence >= AUTO_CORRECT_CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "current": self.current, "proposed": self.proposed,
                "confidence": self.confidence, "reason": self.reason, "code": self.code,
                "auto_applicable": self.auto_applicable}


@dataclass(frozen=True)
class AddressCheck:
    """What `validate_address` found: blocking problems, warnings, and corrections to propose."""

    valid: bool
    country: str | None
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    corrections: tuple[Correction, ...] = ()
    normalized: Mapping[str, str] = field(default_factory=dict)

    def confident_corrections(self) -> tuple[Correction, ...]:
        """The corrections a caller may apply without asking (one confident candidate each)."""
        return tuple(c for c in self.corrections if c.auto_applicable)

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "country": self.country,
                "problems": [p.to_dict() for p in self.problems],
                "warnings": [p.to_dict() for p in self.warnings],
                "corrections": [c.to_dict() for c in self.corrections], "normalized": dict(self.normalized)}


@dataclass
class _Candidate:
    field: str
    proposed: str
    score: float
    reason: str


class _Findings:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.corrections: list[Correction] = []

    def problem(self, problem: Problem, candidates: Iterable[_Candidate] = (),
                current: Mapping[str, str] | None = None) -> None:
        self.problems.append(problem)
        self.propose(problem.code, list(candidates), current or {})

    def warning(self, problem: Problem, candidates: Iterable[_Candidate] = (),
                current: Mapping[str, str] | None = None) -> None:
        self.warnings.append(problem)
        self.propose(problem.code, list(candidates), current or {})

    def propose(self, code: str, candidates: list[_Candidate], current: Mapping[str, str]) -> None:
        seen: dict[tuple[str, str], _Candidate] = {}
        for c in candidates:
            key = (c.field, c.proposed)
            if key not in seen or seen[key].score < c.score:
                seen[key] = c
        total = sum(c.score for c in seen.values())
        for c in sorted(seen.values(), key=lambda c: -c.score):
            self.corrections.append(Correction(
                field=c.field, current=current.get(c.field, ""), proposed=c.proposed,
                confidence=round(c.score * c.score / total, 3), reason=c.reason, code=code))


_FIELD_ALIASES = {
    "line1": ("line1", "address1", "street"), "line2": ("line2", "address2"), "city": ("city",),
    "state": ("state", "region", "province"), "postal_code": ("postal_code", "zip", "zip_code", "postcode"),
    "country": ("country", "country_code"),
}


def _read_fields(address: object, findings: _Findings) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, aliases in _FIELD_ALIASES.items():
        raw: object = None
        for alias in aliases:
            raw = address.get(alias) if isinstance(address, Mapping) else getattr(address, alias, None)
            if raw is not None:
                break
        if raw is None:
            values[name] = ""
            continue
        if isinstance(raw, int) and not isinstance(raw, bool) and name == "postal_code":
            # A ZIP that went through a number column: 2903 for 02903. Keep the digits, flag it below.
            raw = str(raw)
        if not isinstance(raw, str):
            findings.problem(_problem("address.field_type", name, f"expected text, got {type(raw).__name__}",
                                      f"send {name} as a string"))
            values[name] = ""
            continue
        cleaned = _clean(raw)
        if cleaned.replaced:
            findings.warning(_problem("address.characters_replaced", name,
                                      "control or look-alike characters were replaced"))
        if len(cleaned.text) > MAX_FIELD_LENGTH:
            findings.problem(_problem("address.too_long", name, f"{len(cleaned.text)} characters",
                                      f"send at most {MAX_FIELD_LENGTH} characters"))
            values[name] = ""
            continue
        values[name] = cleaned.text
    return values


def validate_address(address: object, country: str | None = None) -> AddressCheck:
    """Check an address (a mapping or an object with line1/city/state/postal_code attributes).

    `country` overrides the address's own country; with neither, the address is taken as US.
    """
    findings = _Findings()
    if address is None or isinstance(address, (str, bytes)):
        findings.problem(_problem("address.field_type", "address",
                                  f"expected a mapping or an Address, got {type(address).__name__}",
                                  "send the address as fields (line1, city, state, postal_code)"))
    values = _read_fields(address, findings)
    country_text = country if isinstance(country, str) and country.strip() else values["country"] or "US"
    normalized = dict(values)
    code = normalise_country(_clean(country_text).text)
    if code is None:
        if looks_like_country_code(country_text):
            findings.warning(_problem("address.country_unlisted", "country",
                                      f"{country_text!r} is not in the country table; postal code not checked"))
        else:
            findings.problem(_problem("address.country_unknown", "country",
                                      f"{country_text!r} is not a country code or name we know",
                                      "send the ISO 3166 alpha-2 code, e.g. US, GB, DE"))
    else:
        normalized["country"] = code
        if code in US_ZIP_COUNTRIES:
            _check_us(values, normalized, findings)
        else:
            _check_postal_format(code, values, normalized, findings)
    return AddressCheck(valid=not findings.problems, country=code, problems=tuple(findings.problems),
                        warnings=tuple(findings.warnings), corrections=tuple(findings.corrections),
                        normalized=normalized)


def _check_postal_format(code: str, values: dict[str, str], normalized: dict[str, str],
                         findings: _Findings) -> None:
    postal = " ".join(values["postal_code"].upper().split())
    if code in NO_POSTAL_CODE:
        normalized["postal_code"] = ""
        return
    fmt = POSTAL_FORMATS.get(code)
    if fmt is None:
        return
    name = COUNTRIES[code].name
    if not postal:
        findings.problem(_problem("address.missing", "postal_code", f"{name} addresses need a postal code",
                                  f"add the postal code ({fmt.description})"))
        return
    canonical = fmt.match(postal)
    if canonical is None:
        findings.problem(_problem("address.postal_format", "postal_code",
                                  f"{values['postal_code']!r} is not a {name} postal code ({fmt.description})",
                                  f"write it like {fmt.examples[0]}", examples=list(fmt.examples)))
        return
    normalized["postal_code"] = canonical


# ---- US ---------------------------------------------------------------------------------------

_US_ZIP = re.compile(r"(\d{5})(?:\s*-\s*|\s?)(\d{4})?")
_SHORT_ZIP = re.compile(r"(\d{3,4})(?:\s*-\s*(\d{4}))?")


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count 1), or limit + 1 once it exceeds limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1] if prev[-1] <= limit else limit + 1


def _within_one_edit(a: str, b: str) -> bool:
    """Whether b is a one character change, insertion, deletion or neighbour swap away from a (a != b)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diffs) == 1 or (len(diffs) == 2 and diffs[1] == diffs[0] + 1
                                   and a[diffs[0]] == b[diffs[1]] and a[diffs[1]] == b[diffs[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((k for k in range(len(short)) if short[k] != long_[k]), len(short))
    return short[i:] == long_[i + 1:]


def _spelling_limit(key: str) -> int:
    return 1 if len(key) <= 5 else 2 if len(key) <= 10 else 3


def _street_zips(db: ZipDatabase, zips: Iterable[str], po_box: bool) -> list[str]:
    """The ZIPs a parcel to this line could use: PO-box-only ZIPs only for PO boxes, no unique ZIPs."""
    out = []
    for z in zips:
        entry = db.by_zip[z]
        if entry.kind == "UNIQUE" or (entry.kind == "PO BOX" and not po_box):
            continue
        out.append(z)
    return out


_PO_BOX = re.compile(r"\b(?:P\.?\s*O\.?\s*BOX|POST\s+OFFICE\s+BOX|BOX)\s*\d", re.IGNORECASE)


def _zip_candidates_for_city(db: ZipDatabase, state: str, city: str, given: str, po_box: bool) -> list[_Candidate]:
    zips = _street_zips(db, db.zips_for(state, city), po_box)
    near = [z for z in zips if given and _within_one_edit(z, given)]
    if near:
        return [_Candidate("postal_code", z, 0.92, f"{z} serves {city}, {state} and is one digit from {given}")
                for z in near]
    if len(zips) <= 3:
        return [_Candidate("postal_code", z, 0.9, f"{z} is {'the' if len(zips) == 1 else 'a'} ZIP of {city}, {state}")
                for z in zips]
    return []


def _city_candidates(entry: ZipEntry, city: str) -> list[_Candidate]:
    """The one place this ZIP is, if the given city is a misspelling of any of its names. The names of one ZIP
    (USPS's city and the abbreviations it accepts, "Huntington Beach" / "Huntingtn Bch") are one candidate, not
    rivals: the closest name decides the distance, and the correction is USPS's own city name unless only an
    abbreviation was close."""
    key = place_key(city)
    limit = _spelling_limit(key)
    matches = [(edit_distance(key, place_key(name), limit), name != entry.city, name)
               for name in (entry.city, *entry.acceptable)]
    close = [m for m in matches if m[0] <= limit]
    if not close:
        return []
    d, _alias, name = min(close)
    primary = next((m for m in close if not m[1]), None)
    if primary is not None:
        name = entry.city
    return [_Candidate("city", name, round(1 - 0.05 * d, 3),
                       f"{entry.zip5} is {entry.city}, {entry.state}; {city!r} is {d} letter(s) from {name!r}")]


def _check_us(values: dict[str, str], normalized: dict[str, str], findings: _Findings) -> None:
    db = get_zip_database()
    city, state_text, zip_text = values["city"], values["state"], values["postal_code"]
    po_box = bool(_PO_BOX.search(values["line1"]))
    for name in ("line1", "city", "state", "postal_code"):
        if not values[name]:
            findings.problem(_problem("address.missing", name, f"{name} is empty", f"add the {name}"))

    state = normalise_state(state_text) if state_text else None
    if state_text and state is None:
        findings.problem(_problem("address.state_unknown", "state", f"{state_text!r} is not a US state",
                                  "send the two-letter USPS code, e.g. IL"))
    if state:
        normalized["state"] = state

    zip5, zip4 = _read_zip(zip_text, state, city, db, findings, values)
    if zip5 is None:
        return
    normalized["postal_code"] = f"{zip5}-{zip4}" if zip4 else zip5
    entry = db.get(zip5)
    if entry is None:
        candidates = _zip_candidates_for_city(db, state, city, zip5, po_box) if state and city else []
        findings.problem(_problem("address.unknown_zip", "postal_code", f"{zip5} is not a ZIP code USPS uses",
                                  "check the ZIP on the order"), candidates, values)
        return
    if not entry.active:
        findings.warning(_problem("address.zip_inactive", "postal_code", f"{zip5} is no longer in use"))
    if entry.kind == "PO BOX" and values["line1"] and not po_box:
        # UPS and FedEx cannot deliver to a ZIP that only has PO boxes; USPS can.
        findings.warning(_problem("address.po_box_zip", "postal_code",
                                  f"{zip5} serves PO boxes only, but the address is a street",
                                  "ask for the street ZIP, or ship by USPS"))
    if not city and state in (None, entry.state):
        findings.propose("address.missing", [_Candidate("city", entry.city, 0.95,
                                                        f"{zip5} is {entry.city}, {entry.state}")], values)
    if state is None:
        score = 0.95 if city and place_key(city) in entry.accepted_keys() else 0.9
        findings.propose("address.state_unknown" if state_text else "address.missing",
                         [_Candidate("state", entry.state, score, f"{zip5} is in {entry.state}")], values)
        return
    if entry.state != state:
        _zip_state_mismatch(db, entry, state, city, po_box, values, findings)
        return
    if city:
        _city_check(db, entry, state, city, po_box, values, findings)


def _read_zip(zip_text: str, state: str | None, city: str, db: ZipDatabase, findings: _Findings,
              values: dict[str, str]) -> tuple[str | None, str]:
    if not zip_text:
        if state and city:
            from_city = _zip_candidates_for_city(db, state, city, "", bool(_PO_BOX.search(values["line1"])))
            findings.propose("address.missing", from_city, values)
        return None, ""
    match = _US_ZIP.fullmatch(zip_text)
    if match:
        return match.group(1), match.group(2) or ""
    short = _SHORT_ZIP.fullmatch(zip_text)
    candidates: list[_Candidate] = []
    if short:
        # A ZIP that lost its leading zeros in a spreadsheet (02903 -> 2903).
        padded = short.group(1).zfill(5)
        entry = db.get(padded)
        if entry and (state is None or entry.state == state):
            agrees = bool(city) and place_key(city) in entry.accepted_keys()
            suffix = f"-{short.group(2)}" if short.group(2) else ""
            candidates.append(_Candidate("postal_code", padded + suffix, 0.97 if agrees else 0.95,
                                         f"{zip_text} looks like {padded} with its leading zeros lost"))
    digits = re.sub(r"\D", "", zip_text)
    if state and city and 4 <= len(digits) <= 6:
        candidates += _zip_candidates_for_city(db, state, city, digits, bool(_PO_BOX.search(values["line1"])))
    findings.problem(_problem("address.zip_format", "postal_code", f"{zip_text!r} is not a ZIP code",
                              "write 5 digits, optionally -4 digits (ZIP+4)"), candidates, values)
    return None, ""


def _zip_state_mismatch(db: ZipDatabase, entry: ZipEntry, state: str, city: str, po_box: bool,
                        values: dict[str, str], findings: _Findings) -> None:
    candidates: list[_Candidate] = []
    if city and place_key(city) in entry.accepted_keys():
        candidates.append(_Candidate("state", entry.state, 0.95,
                                     f"{entry.zip5} and {city} are both in {entry.state}"))
    elif city:
        candidates.extend(_Candidate("state", entry.state, 0.85, c.reason) for c in _city_candidates(entry, city))
    if city:
        candidates.extend(_zip_candidates_for_city(db, state, city, entry.zip5, po_box))
    findings.problem(_problem("address.zip_state_mismatch", "postal_code",
                              f"{entry.zip5} is in {entry.state}, not {state}",
                              "correct the state or the ZIP", zip_state=entry.state), candidates, values)


def _city_check(db: ZipDatabase, entry: ZipEntry, state: str, city: str, po_box: bool,
                values: dict[str, str], findings: _Findings) -> None:
    key = place_key(city)
    if key in entry.accepted_keys():
        return
    if key in (place_key(n) for n in entry.unacceptable):
        findings.warning(_problem("address.city_alias", "city",
                                  f"USPS knows {city!r} for {entry.zip5} but asks for {entry.city!r}"),
                         [_Candidate("city", entry.city, 0.97, f"{city!r} is a USPS alias of {entry.city}")],
                         values)
        return
    candidates = _city_candidates(entry, city)
    if not candidates:
        candidates = _zip_candidates_for_city(db, state, city, entry.zip5, po_box)
        candidates.append(_Candidate("city", entry.city, 0.5,
                                     f"{entry.zip5} is {entry.city}; {city!r} is not near that name"))
    findings.problem(_problem("address.city_mismatch", "city",
                              f"{city!r} is not a city USPS accepts for {entry.zip5} ({entry.city}, {entry.state})",
                              "correct the city or the ZIP", zip_city=entry.city), candidates, values)
