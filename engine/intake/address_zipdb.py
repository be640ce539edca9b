"""The offline US ZIP database: every ZIP5 with its city, state, USPS aliases and type.

Source: the `zipcodes` package (MIT, pinned `>=3.0,<4`), whose Rust extension embeds the whole
data set (42,789 ZIP5s including PO-box-only, unique and military ZIPs and inactive ones; built by
its authors from USPS ZIP Locale Detail, public domain, unitedstateszipcodes.org's free database,
and GeoNames, CC BY 4.0). Nothing is downloaded at run time. Why this one: `uszipcode` and
`pgeocode` download their data on first use, which Orderloom's machines cannot do, and a file of our
own would need refreshing by hand; `zipcodes` is refreshed monthly upstream and a version bump
brings the new data. It has no ZIP+4 ranges (no free source has), so ZIP+4 is checked for form only.

`get_zip_database()` reads it once, on first use, state by state (about 0.9 s on the 2-core dev
machine), keeps compact entries (26 MB of Python objects; the process grows by about 75 MB) and lets
the package's dicts go.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

# USPS state codes: the states, DC, territories, freely associated states and military "states".
_STATE_ROWS = (
    ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"), ("CA", "California"),
    ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"), ("DC", "District of Columbia"),
    ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"), ("ID", "Idaho"), ("IL", "Illinois"),
    ("IN", "Indiana"), ("IA", "Iowa"), ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"),
    ("ME", "Maine"), ("MD", "Maryland"), ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"),
    ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"), ("NV", "Nevada"),
    ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"), ("NY", "New York"),
    ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"), ("OK", "Oklahoma"), ("OR", "Oregon"),
    ("PA", "Pennsylvania"), ("RI", "Rhode Island"), ("SC", "South Carolina"), ("SD", "South Dakota"),
    ("TN", "Tennessee"), ("TX", "Texas"), ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"),
    ("WA", "Washington"), ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
    ("PR", "Puerto Rico"), ("GU", "Guam"), ("VI", "Virgin Islands"), ("AS", "American Samoa"),
    ("MP", "Northern Mariana Islands"), ("FM", "Micronesia"), ("MH", "Marshall Islands"), ("PW", "Palau"),
    ("AA", "Armed Forces Americas"), ("AE", "Armed Forces Europe"), ("AP", "Armed Forces Pacific"),
)
US_STATES: dict[str, str] = dict(_STATE_ROWS)

# Words that people abbreviate in place names; both the database and the input are expanded.
_PLACE_WORDS = {
    "ST": "SAINT", "STE": "SAINTE", "FT": "FORT", "MT": "MOUNT", "MTN": "MOUNTAIN", "PT": "POINT",
    "N": "NORTH", "S": "SOUTH", "E": "EAST", "W": "WEST", "HTS": "HEIGHTS", "SPGS": "SPRINGS",
    "SPG": "SPRING", "JCT": "JUNCTION", "VLG": "VILLAGE", "TWP": "TOWNSHIP", "BCH": "BEACH",
    "CTR": "CENTER", "CNTR": "CENTER", "LK": "LAKE", "PK": "PARK", "HBR": "HARBOR",
    "IS": "ISLAND", "VLY": "VALLEY", "GDNS": "GARDENS", "CYN": "CANYON",
}


def place_key(name: str) -> str:
    """A comparison key for a place name: accents, case, punctuation and abbreviations folded."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(c for c in folded if not unicodedata.combining(c)).upper()
    folded = re.sub(r"['\u2019]", "", folded)
    words = re.sub(r"[^A-Z0-9]+", " ", folded).split()
    # Joined without spaces so that "McLeansboro" and "Mc Leansboro" compare equal.
    return "".join(_PLACE_WORDS.get(w, w) for w in words)


@dataclass(frozen=True, slots=True)
class ZipEntry:
    """One ZIP5 as USPS knows it."""

    zip5: str
    city: str
    state: str
    kind: str  # STANDARD, PO BOX, UNIQUE (one organisation), MILITARY
    active: bool
    acceptable: tuple[str, ...]  # other city names USPS accepts for this ZIP
    unacceptable: tuple[str, ...]  # names people use that USPS does not (neighbourhoods, "NYC")

    def accepted_keys(self) -> tuple[str, ...]:
        return (place_key(self.city), *(place_key(c) for c in self.acceptable))


class ZipDatabase:
    """Look-ups by ZIP5 and by (state, city)."""

    def __init__(self, entries: list[ZipEntry]) -> None:
        self.by_zip: dict[str, ZipEntry] = {e.zip5: e for e in entries}
        by_city: dict[tuple[str, str], list[str]] = defaultdict(list)
        names: dict[str, dict[str, str]] = defaultdict(dict)
        for e in entries:
            for name in (e.city, *e.acceptable):
                key = place_key(name)
                by_city[(e.state, key)].append(e.zip5)
                names[e.state].setdefault(key, name)
        self.by_city: dict[tuple[str, str], tuple[str, ...]] = {k: tuple(v) for k, v in by_city.items()}
        self.city_names: dict[str, dict[str, str]] = dict(names)
        self.states = frozenset(e.state for e in entries)

    def get(self, zip5: str) -> ZipEntry | None:
        return self.by_zip.get(zip5)

    def zips_for(self, state: str, city: str) -> tuple[str, ...]:
        """The ZIP5s that serve a city (by any accepted name) in a state; empty if none."""
        return self.by_city.get((state, place_key(city)), ())

    def states_with_city(self, city: str) -> tuple[str, ...]:
        key = place_key(city)
        return tuple(sorted(s for s in self.states if (s, key) in self.by_city))


def _entry(row: dict[str, object]) -> ZipEntry:
    def names(value: object) -> tuple[str, ...]:
        return tuple(str(v) for v in value) if isinstance(value, list) else ()

    return ZipEntry(
        zip5=str(row["zip_code"]), city=str(row["city"]), state=str(row["state"]),
        kind=str(row.get("zip_code_type", "STANDARD")), active=bool(row.get("active", True)),
        acceptable=names(row.get("acceptable_cities")), unacceptable=names(row.get("unacceptable_cities")),
    )


@functools.cache
def get_zip_database() -> ZipDatabase:
    """The ZIP database, built on first call (about 1 s) and shared after."""
    # The extension module, state by state: `zipcodes.list_all()` would keep its 90 MB list of dicts
    # cached, and one list of all 42,789 dicts doubles the process's resident memory (174 MB against
    # 94 MB). A test checks that the package knows no state outside US_STATES.
    from zipcodes import _zipcodes

    return ZipDatabase([_entry(row) for state in US_STATES for row in _zipcodes.filter_by(None, state=state)])
