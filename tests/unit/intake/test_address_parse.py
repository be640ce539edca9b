"""parse_us_address: one-line and multi-line US addresses, and input that is not an address at all."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.intake.address import MAX_ADDRESS_LENGTH, parse_us_address


def codes(parsed: object) -> set[str]:
    return {p.code for p in parsed.problems}  # type: ignore[attr-defined]


def test_a_one_line_street_address_is_split_into_its_parts() -> None:
    parsed = parse_us_address("1234 S Martin Luther King Dr, Chicago, IL 60637")
    assert parsed.address_type == "Street Address"
    assert (parsed.street_number, parsed.street_predirection, parsed.street_name, parsed.street_type) == (
        "1234", "S", "Martin Luther King", "Dr")
    assert (parsed.city, parsed.state, parsed.zip5, parsed.zip4) == ("Chicago", "IL", "60637", "")
    assert parsed.line1 == "1234 S Martin Luther King Dr"
    assert not parsed.ambiguous and not parsed.problems


@pytest.mark.parametrize("text", [
    "123 Main St Apt 4B\nChicago, IL 60601",
    "123 Main St Apt 4B\r\nChicago, IL 60601\r\n",
    "  123   Main St ,, Apt 4B ;\n\n Chicago ,  IL   60601  ",
])
def test_multi_line_input_and_extra_punctuation_give_the_same_parts(text: str) -> None:
    parsed = parse_us_address(text)
    assert (parsed.street_number, parsed.street_name, parsed.unit_type, parsed.unit_id) == ("123", "Main", "Apt", "4B")
    assert (parsed.city, parsed.state, parsed.zip5) == ("Chicago", "IL", "60601")


def test_a_list_of_lines_is_read_as_a_multi_line_address() -> None:
    parsed = parse_us_address(["123 Main St", "Suite 200", "Chicago, IL 60601"])
    assert (parsed.unit_type, parsed.unit_id, parsed.city) == ("Suite", "200", "Chicago")
    assert parsed.line2 == "Suite 200"


def test_lower_case_input_is_parsed_like_title_case() -> None:
    parsed = parse_us_address("100 diamond street san francisco, ca 941142414")
    assert (parsed.street_name, parsed.street_type, parsed.city, parsed.state) == (
        "diamond", "street", "san francisco", "CA")
    assert (parsed.zip5, parsed.zip4, parsed.postal_code) == ("94114", "2414", "94114-2414")


@pytest.mark.parametrize("text", ["P.O. Box 123, Springfield, IL 62701", "po box 123 springfield il 62701",
                                  "PO BOX 123\nSpringfield IL 62701-0123"])
def test_po_boxes_are_recognised(text: str) -> None:
    parsed = parse_us_address(text)
    assert parsed.address_type == "PO Box"
    assert parsed.po_box == "123"
    assert parsed.line1 == "PO Box 123"
    assert parsed.zip5 == "62701"


@pytest.mark.parametrize(("text", "unit_type", "unit_id"), [
    ("431 Marietta St NW Fl. 3, Atlanta, GA 30313", "Fl.", "3"),
    ("500 W Madison St Ste 1000, Chicago, IL 60661", "Ste", "1000"),
    ("626 E Kilbourn Ave Apt 1B, Milwaukee, WI 53202", "Apt", "1B"),
])
def test_unit_designators_are_kept_apart_from_the_street(text: str, unit_type: str, unit_id: str) -> None:
    parsed = parse_us_address(text)
    assert (parsed.unit_type, parsed.unit_id) == (unit_type, unit_id)


def test_a_full_state_name_is_given_as_its_code() -> None:
    parsed = parse_us_address("1646 Red Leaf Drive Fort Mill, South Carolina 29715 United States")
    assert (parsed.city, parsed.state, parsed.zip5) == ("Fort Mill", "SC", "29715")


def test_two_cities_and_two_zips_are_reported_as_ambiguous_not_guessed() -> None:
    parsed = parse_us_address("123 Main St Chicago IL 60601 Springfield IL 62701")
    assert parsed.ambiguous
    assert (parsed.city, parsed.state, parsed.zip5) == ("", "", "")
    contested = {p.field: p.data["candidates"] for p in parsed.problems if p.code == "address.ambiguous"}
    assert contested["city"] == ["Chicago", "Springfield"]
    assert contested["zip5"] == ["60601", "62701"]
    assert parsed.street_number == "123"  # parts the model agrees on are still given


def test_a_place_without_a_street_is_not_called_a_street_address() -> None:
    parsed = parse_us_address("Soldotna, AK 99669")
    assert parsed.address_type == "Ambiguous"
    assert (parsed.city, parsed.state, parsed.zip5) == ("Soldotna", "AK", "99669")


@pytest.mark.parametrize("text", ["", "   ", "\n\n", ",,, ;", "\x00\x01"])
def test_empty_input_is_reported_missing(text: str) -> None:
    parsed = parse_us_address(text)
    assert "address.missing" in codes(parsed)
    assert parsed.line1 == ""


@pytest.mark.parametrize("length", [MAX_ADDRESS_LENGTH + 1, 100_000, 5_000_000])
def test_very_long_input_is_refused_without_parsing(length: int) -> None:
    parsed = parse_us_address(("123 Main St " * (length // 12 + 1))[:length - 1] + "X")
    assert "address.too_long" in codes(parsed)
    assert parsed.tokens == ()


@pytest.mark.parametrize("value", [None, 60601, 3.5, b"123 Main St", {"line1": "x"}, ["a", 1]])
def test_input_that_is_not_text_is_a_problem_not_an_exception(value: object) -> None:
    parsed = parse_us_address(value)
    assert codes(parsed) == {"address.field_type"}


def test_control_and_zero_width_characters_are_dropped_and_reported() -> None:
    parsed = parse_us_address("123 Main\x00 St\u200b, Chic\x1bago, IL 60601\x7f")
    assert "address.characters_replaced" in codes(parsed)
    assert (parsed.street_name, parsed.zip5) == ("Main", "60601")


def test_cyrillic_look_alikes_and_full_width_digits_become_latin() -> None:
    parsed = parse_us_address("\uff11\uff12\uff13 M\u0430in St, \u0421hicago, I\u041b IL 60601")
    assert parsed.street_number == "123"
    assert parsed.street_name == "Main"
    assert parsed.city.startswith("Chicago")
    assert "address.characters_replaced" in codes(parsed)


def test_a_malformed_zip_is_reported_with_its_form() -> None:
    parsed = parse_us_address("123 Main St, Chicago, IL 606-01")
    assert "address.zip_format" in codes(parsed)
    assert parsed.zip5 == "606-01"  # kept as written, for the caller to show


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_without_raising(text: str) -> None:
    parsed = parse_us_address(text)
    assert isinstance(parsed.problems, tuple)
    assert parsed.ambiguous == any(p.code == "address.ambiguous" for p in parsed.problems)
