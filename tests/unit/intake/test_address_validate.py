"""validate_address: US addresses against the ZIP database, corrections and what their confidence means."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.orders import Address
from engine.intake.address import (
    AUTO_CORRECT_CONFIDENCE,
    AddressCheck,
    _within_one_edit,
    edit_distance,
    normalise_state,
    parse_us_address,
    validate_address,
)


def us(city: str = "Chicago", state: str = "IL", postal_code: object = "60637", line1: str = "1 Main St",
       **more: Any) -> dict[str, Any]:
    return {"line1": line1, "city": city, "state": state, "postal_code": postal_code, **more}


def codes(check: AddressCheck) -> set[str]:
    return {p.code for p in check.problems}


def only_correction(check: AddressCheck) -> tuple[str, str, float]:
    assert len(check.corrections) == 1, check.corrections
    c = check.corrections[0]
    return c.field, c.proposed, c.confidence


def test_a_correct_address_is_valid_with_nothing_to_correct() -> None:
    check = validate_address(us())
    assert check.valid and check.country == "US"
    assert check.problems == () and check.warnings == () and check.corrections == ()


def test_an_order_address_object_is_checked_like_a_mapping() -> None:
    check = validate_address(Address(name="A", line1="1 Main St", city="Chicago", state="IL", postal_code="60637"))
    assert check.valid


@pytest.mark.parametrize(("written", "normal"), [("60637-1234", "60637-1234"), ("606371234", "60637-1234"),
                                                ("60637 1234", "60637-1234"), (" 60637 ", "60637")])
def test_zip_plus_four_forms_are_accepted_and_normalised(written: str, normal: str) -> None:
    check = validate_address(us(postal_code=written))
    assert check.valid
    assert check.normalized["postal_code"] == normal


@pytest.mark.parametrize("written", ["60637-12", "6063A", "ABCDE", "60637-12345", "606"])
def test_a_malformed_zip_is_a_format_problem(written: str) -> None:
    assert "address.zip_format" in codes(validate_address(us(postal_code=written)))


def test_state_names_and_abbreviations_are_normalised() -> None:
    assert validate_address(us(state="Illinois")).normalized["state"] == "IL"
    assert validate_address(us(state="ill.")).valid
    assert normalise_state("south carolina") == "SC"
    assert normalise_state("D.C.") == "DC"
    assert normalise_state("Narnia") is None


def test_abbreviated_place_words_match_the_database_spelling() -> None:
    assert validate_address(us(city="Ft Payne", state="AL", postal_code="35967")).valid
    assert validate_address(us(city="st. louis", state="mo", postal_code="63101")).valid


def test_a_zip_that_lost_its_leading_zero_gets_one_confident_correction() -> None:
    check = validate_address(us(city="Providence", state="RI", postal_code="2903"))
    assert codes(check) == {"address.zip_format"}
    assert only_correction(check) == ("postal_code", "02903", 0.97)
    assert check.confident_corrections() == check.corrections


def test_a_zip_sent_as_a_number_is_read_as_its_digits() -> None:
    check = validate_address(us(city="Providence", state="RI", postal_code=2903))
    assert check.confident_corrections()[0].proposed == "02903"


def test_a_misspelt_city_gets_one_confident_candidate() -> None:
    check = validate_address(us(city="Chicgo"))
    assert codes(check) == {"address.city_mismatch"}
    field, proposed, confidence = only_correction(check)
    assert (field, proposed) == ("city", "Chicago")
    assert confidence >= AUTO_CORRECT_CONFIDENCE
    assert check.corrections[0].auto_applicable


@pytest.mark.parametrize(("city", "state", "zip5", "expected"), [
    ("Hunitngton Beach", "CA", "92648", "Huntington Beach"),  # USPS also accepts "Huntingtn Bch" for it
    ("Port Wnetworth", "GA", "31407", "Port Wentworth"),
    ("Nroth Ferrisburgh", "VT", "05473", "North Ferrisburgh"),
])
def test_the_names_of_one_zip_are_one_candidate_not_rivals(city: str, state: str, zip5: str, expected: str) -> None:
    check = validate_address(us(city=city, state=state, postal_code=zip5))
    field, proposed, confidence = only_correction(check)
    assert (field, proposed) == ("city", expected) and confidence >= AUTO_CORRECT_CONFIDENCE


def test_a_city_far_from_the_zips_city_is_proposed_with_low_confidence_only() -> None:
    check = validate_address(us(city="Springfield"))
    assert codes(check) == {"address.city_mismatch"}
    assert check.confident_corrections() == ()
    assert all(c.confidence <= 0.5 for c in check.corrections)


def test_a_wrong_state_is_corrected_from_the_zip_when_the_city_agrees() -> None:
    check = validate_address(us(state="WI"))
    assert codes(check) == {"address.zip_state_mismatch"}
    assert only_correction(check) == ("state", "IL", 0.95)


def test_a_zip_of_another_state_with_no_agreeing_field_proposes_nothing() -> None:
    check = validate_address(us(city="Springfield", state="MA"))
    assert codes(check) == {"address.zip_state_mismatch"}
    assert check.confident_corrections() == ()


def test_several_candidate_zips_share_the_confidence_and_none_is_auto_applied() -> None:
    check = validate_address(us(postal_code="6063"))
    assert codes(check) == {"address.zip_format"}
    assert len(check.corrections) > 3
    assert check.confident_corrections() == ()
    assert sum(c.confidence for c in check.corrections) < 1


def test_a_six_digit_zip_with_one_near_zip_of_the_city_is_corrected() -> None:
    check = validate_address(us(postal_code="606001"))
    assert only_correction(check)[:2] == ("postal_code", "60601")


def test_an_unknown_zip_is_reported() -> None:
    assert codes(validate_address(us(postal_code="00000"))) == {"address.unknown_zip"}


def test_a_usps_alias_is_a_warning_with_the_preferred_name() -> None:
    check = validate_address(us(city="Manhattan", state="NY", postal_code="10001"))
    assert check.valid
    assert [w.code for w in check.warnings] == ["address.city_alias"]
    assert only_correction(check)[:2] == ("city", "New York")


def test_an_unknown_state_is_reported_and_corrected_from_the_zip() -> None:
    check = validate_address(us(state="ll"))
    assert codes(check) == {"address.state_unknown"}
    assert only_correction(check) == ("state", "IL", 0.95)


def test_missing_fields_are_all_listed_and_the_zip_fills_city_and_state() -> None:
    check = validate_address({"line1": "", "city": "", "state": "", "postal_code": "60637"})
    assert [p.field for p in check.problems] == ["line1", "city", "state"]
    assert {(c.field, c.proposed) for c in check.corrections} == {("city", "Chicago"), ("state", "IL")}


def test_a_missing_zip_is_proposed_when_the_city_has_only_one() -> None:
    check = validate_address(us(city="Mansfield", state="PA", postal_code=""))
    assert codes(check) == {"address.missing"}
    assert only_correction(check)[:2] == ("postal_code", "16933")


def test_territories_and_military_addresses_use_the_zip_database() -> None:
    assert validate_address(us(city="San Juan", state="PR", postal_code="00901"), "PR").valid
    assert validate_address(us(city="APO", state="AE", postal_code="09001", line1="Unit 2050")).valid


def test_a_field_alias_such_as_zip_is_read() -> None:
    assert validate_address({"line1": "1 Main St", "city": "Chicago", "state": "IL", "zip": "60637"}).valid


@pytest.mark.parametrize("address", [None, "1 Main St, Chicago", b"bytes", 42])
def test_something_that_is_not_an_address_is_a_problem_not_an_exception(address: object) -> None:
    check = validate_address(address)
    assert not check.valid
    assert codes(check) & {"address.field_type", "address.missing"}


@pytest.mark.parametrize("value", [123, 4.5, ["Chicago"], {"x": 1}, b"Chicago"])
def test_a_field_of_the_wrong_type_is_named(value: object) -> None:
    check = validate_address(us(city=value))
    assert any(p.code == "address.field_type" and p.field == "city" for p in check.problems)


def test_an_over_long_field_is_refused() -> None:
    check = validate_address(us(city="Chicago" * 100))
    assert "address.too_long" in codes(check)


def test_control_characters_and_look_alikes_are_cleaned_and_warned_about() -> None:
    check = validate_address(us(city="Chic\u0430go\x00", state="I\u200bL"))
    assert check.valid
    assert {w.code for w in check.warnings} == {"address.characters_replaced"}


def test_a_parsed_address_can_be_validated() -> None:
    parsed = parse_us_address("1234 S Martin Luther King Dr Chicago, IL 60637")
    assert validate_address(parsed.to_address_fields()).valid


def test_edit_distance_counts_a_swap_as_one_and_stops_at_the_limit() -> None:
    assert edit_distance("CHICAGO", "CHIACGO", 2) == 1
    assert edit_distance("CHICAGO", "CHICGO", 2) == 1
    assert edit_distance("CHICAGO", "SPRINGFIELD", 2) == 3


NAMES = st.sampled_from(["Chicago", "Chicgo", "Springfield", "New York", "Manhattan", "Providence", "", "x",
                         "Saint Louis", "Ft Payne", "San Juan"])
STATES = st.sampled_from(["IL", "NY", "RI", "MO", "AL", "PR", "WI", "XX", "", "Illinois"])
ZIPS = st.sampled_from(["60637", "60601", "10001", "02903", "2903", "6063", "00000", "63101", "35967", "606001",
                        "", "60637-1234", "1234567890"])


@settings(max_examples=300, deadline=None)
@given(city=NAMES, state=STATES, postal_code=ZIPS)
def test_each_problem_has_at_most_one_auto_applicable_correction(city: str, state: str, postal_code: str) -> None:
    check = validate_address(us(city=city, state=state, postal_code=postal_code))
    assert check.valid == (not check.problems)
    per_problem = Counter((c.code, c.field) for c in check.confident_corrections())
    assert all(n == 1 for n in per_problem.values())
    for c in check.corrections:
        assert 0 < c.confidence <= 1
        assert c.proposed != c.current


def test_a_street_address_on_a_po_box_only_zip_is_warned_about() -> None:
    street = validate_address(us(city="Arlington Heights", postal_code="60006"))
    assert street.valid
    assert [w.code for w in street.warnings] == ["address.po_box_zip"]
    box = validate_address(us(city="Arlington Heights", postal_code="60006", line1="PO Box 12"))
    assert box.valid and box.warnings == ()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123", min_size=3, max_size=6), st.text(alphabet="0123", min_size=3, max_size=6))
def test_the_fast_one_edit_check_agrees_with_the_edit_distance(a: str, b: str) -> None:
    assert _within_one_edit(a, b) == (a != b and edit_distance(a, b, 1) <= 1)
