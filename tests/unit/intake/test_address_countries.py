"""Country names and codes, and non-US postal-code formats."""

from __future__ import annotations

import pytest

from engine.intake.address import validate_address
from engine.intake.address_countries import COUNTRIES, NO_POSTAL_CODE, POSTAL_FORMATS, normalise_country

MAIN_TRADING = ("US", "CA", "GB", "DE", "FR", "NL", "AU", "MX", "JP", "IT", "ES", "BR", "IN", "CN")


@pytest.mark.parametrize(("written", "code"), [
    ("US", "US"), ("usa", "US"), ("U.S.A.", "US"), ("United States of America", "US"), ("u.s.", "US"),
    ("GB", "GB"), ("GBR", "GB"), ("UK", "GB"), ("U.K.", "GB"), ("United Kingdom", "GB"), ("England", "GB"),
    ("DEU", "DE"), ("Deutschland", "DE"), ("the netherlands", "NL"), ("Holland", "NL"), ("España", "ES"),
    ("  japan ", "JP"), ("Korea, Republic of", "KR"), ("Türkiye", "TR"), ("CHN", "CN"), ("Brasil", "BR"),
])
def test_country_codes_and_common_names_become_alpha_2(written: str, code: str) -> None:
    assert normalise_country(written) == code


@pytest.mark.parametrize("written", ["", "Narnia", "XYZW", "123", "U"])
def test_unknown_countries_are_none(written: str) -> None:
    assert normalise_country(written) is None


def test_every_country_has_a_distinct_alpha_3_and_the_main_traders_have_a_format() -> None:
    assert len({c.alpha3 for c in COUNTRIES.values()}) == len(COUNTRIES)
    assert all(code in POSTAL_FORMATS for code in MAIN_TRADING)
    assert all(code in COUNTRIES for code in POSTAL_FORMATS)


@pytest.mark.parametrize(("country", "example"),
                         [(c, e) for c, f in POSTAL_FORMATS.items() if c != "US" for e in f.examples])
def test_each_format_accepts_its_examples(country: str, example: str) -> None:
    check = validate_address({"line1": "1 High St", "city": "Town", "postal_code": example}, country)
    assert check.valid, check.problems


@pytest.mark.parametrize(("country", "written"), [
    ("GB", "12345"), ("GB", "SW1A"), ("CA", "123 456"), ("CA", "D1A 0B1"), ("NL", "1012 SA"), ("NL", "0123 AB"),
    ("DE", "1011"), ("DE", "101155"), ("FR", "7500"), ("AU", "20000"), ("JP", "1000-001"), ("BR", "0131-0100"),
    ("IN", "011001"), ("CN", "9000000"), ("ES", "53001"), ("IT", "0018"), ("MX", "ABCDE"), ("IE", "B02 X285"),
])
def test_codes_that_do_not_have_the_countrys_form_are_postal_format_problems(country: str, written: str) -> None:
    check = validate_address({"line1": "1 High St", "city": "Town", "postal_code": written}, country)
    assert [p.code for p in check.problems] == ["address.postal_format"]
    assert check.problems[0].data["examples"]


@pytest.mark.parametrize(("country", "written", "canonical"), [
    ("GB", "sw1a1aa", "SW1A 1AA"), ("GB", "  ec1a   1bb ", "EC1A 1BB"), ("CA", "k1a0b1", "K1A 0B1"),
    ("NL", "1012ab", "1012 AB"), ("BR", "01310100", "01310-100"), ("JP", "1000001", "100-0001"),
    ("PL", "00950", "00-950"), ("IN", "560 001", "560001"), ("SE", "11455", "114 55"),
])
def test_matching_codes_are_put_in_the_posts_preferred_form(country: str, written: str, canonical: str) -> None:
    check = validate_address({"line1": "1 High St", "city": "Town", "postal_code": written}, country)
    assert check.valid
    assert check.normalized["postal_code"] == canonical


def test_the_country_argument_overrides_the_addresss_own() -> None:
    address = {"line1": "1 High St", "city": "London", "postal_code": "SW1A 1AA", "country": "US"}
    assert validate_address(address, "United Kingdom").country == "GB"
    assert validate_address({**address, "country": "UK"}).valid


def test_a_missing_postal_code_is_reported_where_the_country_uses_them() -> None:
    check = validate_address({"line1": "1 Rue X", "city": "Paris", "postal_code": ""}, "FR")
    assert [(p.code, p.field) for p in check.problems] == [("address.missing", "postal_code")]


@pytest.mark.parametrize("country", sorted(NO_POSTAL_CODE))
def test_countries_without_postal_codes_accept_any(country: str) -> None:
    assert validate_address({"line1": "1 Queen's Rd", "city": "C", "postal_code": "n/a"}, country).valid


def test_an_unknown_country_is_a_problem_and_an_unlisted_iso_code_a_warning() -> None:
    unknown = validate_address({"line1": "x", "city": "y", "postal_code": "1"}, "Narnia")
    assert [p.code for p in unknown.problems] == ["address.country_unknown"]
    unlisted = validate_address({"line1": "x", "city": "y", "postal_code": "1"}, "ZW")
    assert unlisted.valid
    assert [w.code for w in unlisted.warnings] == ["address.country_unlisted"]
