"""The offline ZIP database built from the `zipcodes` package."""

from __future__ import annotations

from engine.intake.address_zipdb import US_STATES, get_zip_database, place_key


def test_the_database_holds_every_zip_of_the_package_and_no_state_is_left_out() -> None:
    from zipcodes import _zipcodes

    rows = _zipcodes.list_all()
    assert {row["state"] for row in rows} <= set(US_STATES)
    assert len(get_zip_database().by_zip) == len(rows) > 40_000


def test_a_zip_knows_its_city_state_kind_and_aliases() -> None:
    entry = get_zip_database().get("10001")
    assert entry is not None
    assert (entry.city, entry.state, entry.kind) == ("New York", "NY", "STANDARD")
    assert "Manhattan" in entry.unacceptable


def test_cities_are_found_by_any_spelling_of_their_name() -> None:
    db = get_zip_database()
    assert "63101" in db.zips_for("MO", "St. Louis")
    assert db.zips_for("MO", "saint louis") == db.zips_for("MO", "ST LOUIS")
    assert "IL" in db.states_with_city("Springfield")


def test_place_keys_fold_case_accents_punctuation_spaces_and_abbreviations() -> None:
    assert place_key("Ft. Payne") == place_key("fort payne")
    assert place_key("McLeansboro") == place_key("Mc Leansboro")
    assert place_key("Cañon City") == place_key("Canon City")
    assert place_key("Coeur d'Alene") == place_key("COEUR DALENE")
