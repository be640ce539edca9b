"""Country names and codes (ISO 3166-1) and postal-code formats for the main trading countries.

`normalise_country` turns "USA", "u.s.a.", "GBR", "United Kingdom", "Deutschland" into an alpha-2
code. The table lists the countries Orderloom's channels ship to most (85), not all 249 ISO
codes: a well-formed code that is not listed is reported as unlisted, not as wrong. Postal formats
are written from each national post's published format (UPU addressing S42 summaries); each regex
has examples that the unit tests check, and a `canonical` function puts a matching code into the
post's preferred spacing. US ZIP codes are checked in `engine.intake.address` against the ZIP
database, so the US entry here is format-only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

# alpha-2, alpha-3, English short name, other names people write (upper case, no punctuation).
_COUNTRY_ROWS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("US", "USA", "United States", ("UNITED STATES OF AMERICA", "AMERICA", "U S", "U S A", "US OF A")),
    ("CA", "CAN", "Canada", ()),
    ("MX", "MEX", "Mexico", ("MEXICO", "ESTADOS UNIDOS MEXICANOS")),
    ("GB", "GBR", "United Kingdom", ("UK", "U K", "GREAT BRITAIN", "BRITAIN", "ENGLAND", "SCOTLAND", "WALES",
                                     "NORTHERN IRELAND", "UNITED KINGDOM OF GREAT BRITAIN AND NORTHERN IRELAND")),
    ("IE", "IRL", "Ireland", ("EIRE", "REPUBLIC OF IRELAND")),
    ("DE", "DEU", "Germany", ("DEUTSCHLAND", "BUNDESREPUBLIK DEUTSCHLAND")),
    ("FR", "FRA", "France", ()),
    ("NL", "NLD", "Netherlands", ("THE NETHERLANDS", "HOLLAND", "NEDERLAND")),
    ("BE", "BEL", "Belgium", ("BELGIE", "BELGIQUE")),
    ("LU", "LUX", "Luxembourg", ()),
    ("AT", "AUT", "Austria", ("OSTERREICH",)),
    ("CH", "CHE", "Switzerland", ("SCHWEIZ", "SUISSE", "SVIZZERA")),
    ("IT", "ITA", "Italy", ("ITALIA",)),
    ("ES", "ESP", "Spain", ("ESPANA",)),
    ("PT", "PRT", "Portugal", ()),
    ("SE", "SWE", "Sweden", ("SVERIGE",)),
    ("NO", "NOR", "Norway", ("NORGE",)),
    ("DK", "DNK", "Denmark", ("DANMARK",)),
    ("FI", "FIN", "Finland", ("SUOMI",)),
    ("IS", "ISL", "Iceland", ()),
    ("PL", "POL", "Poland", ("POLSKA",)),
    ("CZ", "CZE", "Czechia", ("CZECH REPUBLIC",)),
    ("SK", "SVK", "Slovakia", ()),
    ("HU", "HUN", "Hungary", ()),
    ("RO", "ROU", "Romania", ()),
    ("BG", "BGR", "Bulgaria", ()),
    ("GR", "GRC", "Greece", ()),
    ("HR", "HRV", "Croatia", ()),
    ("SI", "SVN", "Slovenia", ()),
    ("RS", "SRB", "Serbia", ()),
    ("EE", "EST", "Estonia", ()),
    ("LV", "LVA", "Latvia", ()),
    ("LT", "LTU", "Lithuania", ()),
    ("CY", "CYP", "Cyprus", ()),
    ("MT", "MLT", "Malta", ()),
    ("MC", "MCO", "Monaco", ()),
    ("LI", "LIE", "Liechtenstein", ()),
    ("UA", "UKR", "Ukraine", ()),
    ("RU", "RUS", "Russia", ("RUSSIAN FEDERATION",)),
    ("TR", "TUR", "Turkey", ("TURKIYE",)),
    ("IL", "ISR", "Israel", ()),
    ("AE", "ARE", "United Arab Emirates", ("UAE", "U A E")),
    ("SA", "SAU", "Saudi Arabia", ()),
    ("QA", "QAT", "Qatar", ()),
    ("KW", "KWT", "Kuwait", ()),
    ("EG", "EGY", "Egypt", ()),
    ("MA", "MAR", "Morocco", ()),
    ("NG", "NGA", "Nigeria", ()),
    ("KE", "KEN", "Kenya", ()),
    ("ZA", "ZAF", "South Africa", ()),
    ("AU", "AUS", "Australia", ()),
    ("NZ", "NZL", "New Zealand", ("AOTEAROA",)),
    ("JP", "JPN", "Japan", ("NIPPON",)),
    ("CN", "CHN", "China", ("PEOPLES REPUBLIC OF CHINA", "PRC", "P R C")),
    ("HK", "HKG", "Hong Kong", ()),
    ("MO", "MAC", "Macao", ("MACAU",)),
    ("TW", "TWN", "Taiwan", ()),
    ("KR", "KOR", "South Korea", ("KOREA", "REPUBLIC OF KOREA", "KOREA REPUBLIC OF")),
    ("IN", "IND", "India", ("BHARAT",)),
    ("PK", "PAK", "Pakistan", ()),
    ("BD", "BGD", "Bangladesh", ()),
    ("LK", "LKA", "Sri Lanka", ()),
    ("SG", "SGP", "Singapore", ()),
    ("MY", "MYS", "Malaysia", ()),
    ("TH", "THA", "Thailand", ()),
    ("ID", "IDN", "Indonesia", ()),
    ("PH", "PHL", "Philippines", ()),
    ("VN", "VNM", "Vietnam", ("VIET NAM",)),
    ("BR", "BRA", "Brazil", ("BRASIL",)),
    ("AR", "ARG", "Argentina", ()),
    ("CL", "CHL", "Chile", ()),
    ("CO", "COL", "Colombia", ()),
    ("PE", "PER", "Peru", ()),
    ("EC", "ECU", "Ecuador", ()),
    ("UY", "URY", "Uruguay", ()),
    ("CR", "CRI", "Costa Rica", ()),
    ("PA", "PAN", "Panama", ()),
    ("GT", "GTM", "Guatemala", ()),
    ("DO", "DOM", "Dominican Republic", ()),
    ("JM", "JAM", "Jamaica", ()),
    # US territories: ISO gives them their own codes, but their mail uses US ZIP codes.
    ("PR", "PRI", "Puerto Rico", ()),
    ("GU", "GUM", "Guam", ()),
    ("VI", "VIR", "US Virgin Islands", ("VIRGIN ISLANDS US", "U S VIRGIN ISLANDS")),
    ("AS", "ASM", "American Samoa", ()),
    ("MP", "MNP", "Northern Mariana Islands", ()),
)

US_ZIP_COUNTRIES = frozenset({"US", "PR", "GU", "VI", "AS", "MP"})


@dataclass(frozen=True)
class Country:
    alpha2: str
    alpha3: str
    name: str


COUNTRIES: dict[str, Country] = {a2: Country(a2, a3, name) for a2, a3, name, _ in _COUNTRY_ROWS}


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    folded = re.sub(r"[^A-Za-z0-9]+", " ", folded)
    return " ".join(folded.upper().split())


def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for a2, a3, name, aliases in _COUNTRY_ROWS:
        for spelling in (a2, a3, name, *aliases):
            index[_key(spelling)] = a2
    # "U.S.A." and "U.K." lose their dots to single letters separated by spaces; join those too.
    for spelling, a2 in list(index.items()):
        if re.fullmatch(r"(?:[A-Z] )+[A-Z]", spelling):
            index[spelling.replace(" ", "")] = a2
    return index


_COUNTRY_INDEX = _country_index()


def normalise_country(value: str) -> str | None:
    """The ISO alpha-2 code for a code or name people write, or None when it is not in the table."""
    return _COUNTRY_INDEX.get(_key(value))


def looks_like_country_code(value: str) -> bool:
    """Whether a value has the shape of an ISO alpha-2 or alpha-3 code (so unlisted, not nonsense)."""
    return re.fullmatch(r"[A-Z]{2,3}", value.strip().upper()) is not None


@dataclass(frozen=True)
class PostalFormat:
    """One country's postal code: the pattern (on upper-cased, space-collapsed input) and examples."""

    pattern: str
    description: str
    examples: tuple[str, ...]
    canonical: Callable[[str], str] | None = None

    def match(self, code: str) -> str | None:
        """The code in the post's preferred form when it matches the format, else None."""
        if re.fullmatch(self.pattern, code) is None:
            return None
        return self.canonical(code) if self.canonical else code


def _split_last(n: int, sep: str = " ") -> Callable[[str], str]:
    """Canonical form with `sep` before the last `n` characters ("SW1A1AA" -> "SW1A 1AA")."""

    def canonical(code: str) -> str:
        compact = code.replace(" ", "").replace("-", "")
        return f"{compact[:-n]}{sep}{compact[-n:]}"

    return canonical


def _no_space(code: str) -> str:
    return code.replace(" ", "")


_F = PostalFormat
POSTAL_FORMATS: dict[str, PostalFormat] = {
    "US": _F(r"\d{5}(?:-\d{4})?", "5 digits, optionally -4 digits (ZIP+4)", ("10001", "60637-1234")),
    "CA": _F(r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d", "A9A 9A9 (no D, F, I, O, Q, U)",
             ("K1A 0B1", "M5V 3L9", "H2Y1C6"), _split_last(3)),
    "GB": _F(r"(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})",
             "outward code (A9, A99, AA9, AA99, A9A, AA9A) + inward code 9AA",
             ("SW1A 1AA", "EC1A 1BB", "M1 1AE", "B33 8TH", "W1A 0AX", "CR2 6XH", "DN55 1PT"), _split_last(3)),
    "IE": _F(r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W) ?[0-9AC-FHKNPRTV-Y]{4}", "Eircode: routing key + 4-character identifier",
             ("D02 X285", "A65 F4E2", "D6W 1234"), _split_last(4)),
    "DE": _F(r"\d{5}", "5 digits", ("10115", "80331", "01067")),
    "FR": _F(r"\d{5}", "5 digits", ("75008", "13001", "97400")),
    "NL": _F(r"[1-9]\d{3} ?(?!SA|SD|SS)[A-Z]{2}", "9999 AA (no SA, SD, SS)", ("1012 AB", "3511LX"), _split_last(2)),
    "BE": _F(r"[1-9]\d{3}", "4 digits", ("1000", "2000")),
    "LU": _F(r"(?:L-?)?\d{4}", "4 digits, optionally L-", ("1009", "L-1009")),
    "AT": _F(r"[1-9]\d{3}", "4 digits", ("1010", "5020")),
    "CH": _F(r"[1-9]\d{3}", "4 digits", ("8001", "1201")),
    "LI": _F(r"94[89]\d", "4 digits 9485-9498", ("9490",)),
    "IT": _F(r"\d{5}", "5 digits", ("00184", "20121")),
    "ES": _F(r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}", "5 digits, province 01-52 first", ("28013", "08001")),
    "PT": _F(r"\d{4}-?\d{3}", "9999-999", ("1000-001", "4000-322"), _split_last(3, "-")),
    "SE": _F(r"[1-9]\d{2} ?\d{2}", "999 99", ("114 55", "11455"), _split_last(2)),
    "NO": _F(r"\d{4}", "4 digits", ("0150", "5003")),
    "DK": _F(r"(?:DK-?)?[1-9]\d{3}", "4 digits", ("1050", "8000")),
    "FI": _F(r"\d{5}", "5 digits", ("00100", "33100")),
    "IS": _F(r"\d{3}", "3 digits", ("101",)),
    "PL": _F(r"\d{2}-?\d{3}", "99-999", ("00-950", "31-008"), _split_last(3, "-")),
    "CZ": _F(r"[1-7]\d{2} ?\d{2}", "999 99", ("110 00", "60200"), _split_last(2)),
    "SK": _F(r"[089]\d{2} ?\d{2}", "999 99", ("811 01", "04001"), _split_last(2)),
    "HU": _F(r"[1-9]\d{3}", "4 digits", ("1051",)),
    "RO": _F(r"\d{6}", "6 digits", ("010011",)),
    "BG": _F(r"\d{4}", "4 digits", ("1000",)),
    "GR": _F(r"\d{3} ?\d{2}", "999 99", ("105 57", "54624"), _split_last(2)),
    "HR": _F(r"\d{5}", "5 digits", ("10000",)),
    "SI": _F(r"(?:SI-?)?\d{4}", "4 digits", ("1000",)),
    "EE": _F(r"\d{5}", "5 digits", ("10111",)),
    "LV": _F(r"(?:LV-?)?\d{4}", "LV-9999", ("LV-1050", "1050")),
    "LT": _F(r"(?:LT-?)?\d{5}", "LT-99999", ("LT-01100", "01100")),
    "MC": _F(r"980\d{2}", "980 + 2 digits", ("98000",)),
    "RU": _F(r"\d{6}", "6 digits", ("101000",)),
    "UA": _F(r"\d{5}", "5 digits", ("01001",)),
    "TR": _F(r"\d{5}", "5 digits", ("34000", "06100")),
    "IL": _F(r"\d{7}", "7 digits", ("6100000",)),
    "SA": _F(r"\d{5}(?:-\d{4})?", "5 digits, optionally -4", ("11564",)),
    "AU": _F(r"\d{4}", "4 digits", ("2000", "0800", "3000")),
    "NZ": _F(r"\d{4}", "4 digits", ("6011", "1010")),
    "JP": _F(r"\d{3}-?\d{4}", "999-9999", ("100-0001", "1500002"), _split_last(4, "-")),
    "CN": _F(r"[0-8]\d{5}", "6 digits", ("100000", "200040")),
    "TW": _F(r"\d{3}(?:\d{2,3})?", "3, 5 or 6 digits", ("100", "10048", "106409")),
    "KR": _F(r"\d{5}", "5 digits", ("03187",)),
    "IN": _F(r"[1-9]\d{2} ?\d{3}", "PIN: 6 digits, first not 0", ("110001", "560 001"), _no_space),
    "SG": _F(r"\d{6}", "6 digits", ("018956",)),
    "MY": _F(r"\d{5}", "5 digits", ("50450",)),
    "TH": _F(r"[1-9]\d{4}", "5 digits", ("10110",)),
    "ID": _F(r"[1-9]\d{4}", "5 digits", ("10110",)),
    "PH": _F(r"\d{4}", "4 digits", ("1000",)),
    "VN": _F(r"\d{6}", "6 digits", ("100000",)),
    "PK": _F(r"\d{5}", "5 digits", ("44000",)),
    "BD": _F(r"\d{4}", "4 digits", ("1000",)),
    "LK": _F(r"\d{5}", "5 digits", ("00100",)),
    "MX": _F(r"\d{5}", "5 digits", ("06600", "44100")),
    "BR": _F(r"\d{5}-?\d{3}", "CEP: 99999-999", ("01310-100", "20040002"), _split_last(3, "-")),
    "AR": _F(r"(?:[A-HJ-NP-Z]\d{4}[A-Z]{3}|\d{4})", "CPA A9999AAA, or the old 4 digits", ("C1425DKF", "1425")),
    "CL": _F(r"\d{7}", "7 digits", ("8320000",)),
    "CO": _F(r"\d{6}", "6 digits", ("110111",)),
    "PE": _F(r"\d{5}", "5 digits", ("15001",)),
    "EC": _F(r"\d{6}", "6 digits", ("170150",)),
    "UY": _F(r"\d{5}", "5 digits", ("11000",)),
    "CR": _F(r"\d{5}", "5 digits", ("10101",)),
    "DO": _F(r"\d{5}", "5 digits", ("10101",)),
    "ZA": _F(r"\d{4}", "4 digits", ("2001", "8001")),
    "EG": _F(r"\d{5}", "5 digits", ("11511",)),
    "MA": _F(r"\d{5}", "5 digits", ("20000",)),
    "KE": _F(r"\d{5}", "5 digits", ("00100",)),
    "NG": _F(r"\d{6}", "6 digits", ("100001",)),
    "CY": _F(r"\d{4}", "4 digits", ("1010",)),
    "MT": _F(r"[A-Z]{3} ?\d{4}", "AAA 9999", ("VLT 1117",), _split_last(4)),
    "RS": _F(r"\d{5}", "5 digits", ("11000",)),
}

# Countries with no postal code system: a postal code there is ignored, not checked.
NO_POSTAL_CODE = frozenset({"HK", "MO", "AE", "QA", "PA", "JM"})
