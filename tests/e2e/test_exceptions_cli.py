"""`orderloom exceptions`: the queue, a case, people's decisions and the policy against the seeded demo."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.bootstrap import bootstrap
from engine.domain import commands as c
from tests.e2e.test_cli import orderloom, state

RENO = {"name": "Ada Byron", "line1": "1 Main St", "city": "Reno", "state": "NV", "postal_code": "89501",
        "country": "US"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("exceptions-cli") / "seeded.db"
    result = orderloom(f"sqlite:///{path}", "seed", "demo")
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def url(seeded: Path, tmp_path: Path) -> str:
    path = tmp_path / "orderloom.db"
    shutil.copy(seeded, path)
    return f"sqlite:///{path}"


def open_case(url: str) -> tuple[str, str]:
    """An order to a ZIP that does not exist, screened: it waits with an address case."""
    application = bootstrap(database_url=url, migrate=False)
    try:
        order_id = str(application.bus.handle(c.PlaceOrder(
            channel="web", external_id="W-9001", ship_to={**RENO, "postal_code": "00000"},
            lines=(c.NewOrderLine("HOM-0001", 2),)))["order_id"])
        application.exceptions.process(order_id)
        cases = application.exceptions.cases(order_id=order_id)
    finally:
        application.close()
    assert len(cases) == 1
    return order_id, str(cases[0]["case_id"])


def test_the_queue_lists_shows_and_a_case_is_resolved(url: str) -> None:
    order_id, case_id = open_case(url)
    listed = orderloom(url, "exceptions", "list")
    assert listed.exit_code == 0, listed.output
    for text in (case_id, "address/unverifiable", order_id, "hold"):
        assert text in listed.output
    data = json.loads(orderloom(url, "exceptions", "list", "--type", "address", "--channel", "web", "--json").stdout)
    assert [x["case_id"] for x in data] == [case_id]
    assert json.loads(orderloom(url, "exceptions", "list", "--type", "payment", "--json").stdout) == []

    shown = orderloom(url, "exceptions", "show", case_id)
    assert shown.exit_code == 0, shown.output
    for text in ("address/unverifiable", "recommended", "00000", order_id, "Audit"):
        assert text in shown.output
    assert json.loads(orderloom(url, "exceptions", "show", case_id, "--json").stdout)["order"]["order_id"] == order_id

    resolved = orderloom(url, "exceptions", "resolve", case_id, "correct_address", "--param",
                         f"ship_to={json.dumps(RENO)}", "--actor", "ana", "--note", "confirmed by phone")
    assert resolved.exit_code == 0, resolved.output
    assert "resolved" in resolved.output
    order = json.loads(orderloom(url, "orders", "show", order_id, "--json").stdout)
    assert order["status"] == "allocated" and order["ship_to"]["postal_code"] == "89501"
    again = orderloom(url, "exceptions", "resolve", case_id, "accept", "--actor", "ana")
    assert again.exit_code == 2 and "exception.closed" in again.output
    assert json.loads(orderloom(url, "exceptions", "list", "--json").stdout) == []


def test_dismiss_policy_and_sweep(url: str) -> None:
    _, case_id = open_case(url)
    dismissed = orderloom(url, "exceptions", "dismiss", case_id, "--actor", "ana", "--note", "false alarm")
    assert dismissed.exit_code == 0 and "dismissed" in dismissed.output
    shown = orderloom(url, "exceptions", "policy")
    assert shown.exit_code == 0 and "auto_reroute" in shown.output
    changed = orderloom(url, "exceptions", "policy", "--set", "auto_reroute=false", "--set", "price_tolerance_pct=3",
                        "--actor", "lead", "--json")
    assert changed.exit_code == 0, changed.output
    policy = json.loads(changed.stdout)
    assert policy["auto_reroute"] is False and policy["price_tolerance_pct"] == 3
    swept = orderloom(url, "exceptions", "sweep")
    assert swept.exit_code == 0 and "milestone case(s)" in swept.output


@pytest.mark.parametrize(("args", "code"), [
    (["exceptions", "show", "99999"], "exception.unknown"),
    (["exceptions", "show", "1; DROP TABLE exception_cases;--"], "exception.unknown"),
    (["exceptions", "resolve", "99999", "accept", "--actor", "ana"], "exception.unknown"),
    (["exceptions", "resolve", "CASE", "launch_rockets", "--actor", "ana"], "exception.action"),
    (["exceptions", "resolve", "CASE", "correct_address", "--param", "ship_to=Reno", "--actor", "ana"],
     "exception.params"),
    (["exceptions", "resolve", "CASE", "cancel", "--param", "noequals", "--actor", "ana"], "validation.pair"),
    (["exceptions", "list", "--status", "pending"], "validation.choice"),
    (["exceptions", "list", "--type", "weather"], "validation.choice"),
    (["exceptions", "policy", "--set", "price_tolerance_pct=-1"], "settings"),
    (["exceptions", "policy", "--set", "no_such=1"], "settings"),
    (["exceptions", "dismiss", "CASE", "--actor", "\x1b[2J"], "validation"),
])
def test_bad_input_exits_2_with_the_code_and_changes_nothing(url: str, args: list[str], code: str) -> None:
    _, case_id = open_case(url)
    args = [case_id if a == "CASE" else a for a in args]
    before = state(url)
    policy = orderloom(url, "exceptions", "policy", "--json").stdout
    result = orderloom(url, *args)
    assert result.exit_code == 2, result.output
    assert code in result.output and "Traceback" not in result.output
    assert "\x1b" not in result.output
    assert state(url) == before
    assert orderloom(url, "exceptions", "policy", "--json").stdout == policy
    assert json.loads(orderloom(url, "exceptions", "show", case_id, "--json").stdout)["status"] == "open"


def test_seed_faults_shows_what_the_desk_did_with_each(url: str) -> None:
    result = orderloom(url, "seed", "faults", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    by_fault = {r["fault"]: r for r in rows}
    assert by_fault["a misspelt city with one confident correction"]["status"] == "allocated"
    assert by_fault["a misspelt city with one confident correction"]["cases"][0]["status"] == "auto_resolved"
    assert by_fault["the same basket submitted again"]["cases"][0]["type"] == "duplicate"
    assert by_fault["a declined payment"]["status"] == "on_hold"
    assert by_fault["a high-value consumer order"]["cases"][0]["type"] == "high_value"
    assert all(c["recommendation"] for r in rows for c in r["cases"])
    again = orderloom(url, "seed", "faults", "--json")  # idempotent: the same orders are not placed twice
    assert again.exit_code == 0 and all(r["status"] == "already placed" for r in json.loads(again.output))


def test_the_ops_assistant_answers_and_its_proposal_waits_for_a_decision(url: str) -> None:
    order_id, _case_id = open_case(url)
    asked = orderloom(url, "ops", "ask", f"what's blocking order {order_id}?", "--llm", "fake")
    assert asked.exit_code == 0 and f"Order {order_id}" in asked.output and "address" in asked.output
    proposed = orderloom(url, "ops", "ask", f"cancel order {order_id}", "--llm", "fake", "--thread", "t1")
    assert proposed.exit_code == 0 and "Approve, edit or reject?" in proposed.output
    assert orderloom(url, "ops", "decide", "maybe", "--actor", "ana", "--thread", "t1").exit_code == 2
    assert orderloom(url, "ops", "decide", "approve", "--actor", "ana", "--thread", "nope").exit_code == 2
    done = orderloom(url, "ops", "decide", "approve", "--actor", "ana", "--thread", "t1")
    assert done.exit_code == 0 and "cancelled" in done.output
