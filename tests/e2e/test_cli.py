"""The `orderloom` command line against a SQLite file named by ORDERLOOM_DATABASE_URL."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from engine.adapters import tables as t
from engine.adapters.database import create_db_engine
from engine.adapters.migrate import head_revision
from engine.bootstrap import bootstrap
from engine.domain import commands as c

runner = CliRunner()
SKU, DC, STORE = "HOM-0001", "DC-RNO", "ST-SEA"


def orderloom(url: str, *args: str) -> Result:
    from api.cli import app

    return runner.invoke(app, list(args), env={"ORDERLOOM_DATABASE_URL": url, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def first_seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A database seeded once by `orderloom seed demo`, and what the command printed."""
    path = tmp_path_factory.mktemp("cli") / "seeded.db"
    result = orderloom(f"sqlite:///{path}", "seed", "demo")
    assert result.exit_code == 0, result.output
    return path, result.output


@pytest.fixture
def url(first_seed: tuple[Path, str], tmp_path: Path) -> str:
    """This test's own copy of the seeded demo database."""
    path = tmp_path / "orderloom.db"
    shutil.copy(first_seed[0], path)
    return f"sqlite:///{path}"


def state(url: str) -> dict[str, int]:
    """Counts and totals that any change of state would move."""
    engine = create_db_engine(url)
    with engine.connect() as conn:
        counts = {table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                  for table in (t.stock_movements, t.stock_balances, t.outbox, t.idempotency_keys, t.reservations)}
        b = t.stock_balances.c
        counts["on_hand"] = int(conn.execute(select(func.sum(b.on_hand))).scalar_one() or 0)
    engine.dispose()
    return counts


def test_db_upgrade_creates_and_migrates_a_new_database(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "new.db"
    url = f"sqlite:///{path}"
    assert "behind" in orderloom(url, "db", "current").output
    result = orderloom(url, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert path.exists() and f"revision {head_revision()}" in result.output
    again = orderloom(url, "db", "upgrade")
    assert again.exit_code == 0 and "already at" in again.output
    assert "up to date" in orderloom(url, "db", "current").output


def test_the_database_url_option_wins_over_the_environment(tmp_path: Path) -> None:
    from api.cli import app

    path = tmp_path / "option.db"
    result = runner.invoke(app, ["--database-url", f"sqlite:///{path}", "db", "upgrade"],
                           env={"ORDERLOOM_DATABASE_URL": f"sqlite:///{tmp_path / 'env.db'}"})
    assert result.exit_code == 0, result.output
    assert path.exists() and not (tmp_path / "env.db").exists()


def test_seeding_twice_gives_the_same_counts_and_changes_nothing(url: str, first_seed: tuple[Path, str]) -> None:
    before = state(url)
    result = orderloom(url, "seed", "demo", "--seed", "7")
    assert result.exit_code == 0, result.output
    assert "already applied" in result.output
    assert state(url) == before

    def counts(output: str) -> list[str]:
        return [line for line in output.splitlines() if "│" in line and "commands applied" not in line]

    assert counts(first_seed[1]) == counts(result.output)
    assert len(counts(result.output)) >= 12
    assert "opening stock" in first_seed[1]  # the progress display named each phase
    assert "SKUs" in result.output and "520" in result.output


def test_atp_shows_nodes_the_network_total_and_channels(url: str) -> None:
    result = orderloom(url, "inventory", "atp", SKU)
    assert result.exit_code == 0, result.output
    for text in (SKU, DC, STORE, "TOTAL", "marketplace", "b2b_edi", "of"):
        assert text in result.output
    data = json.loads(orderloom(url, "inventory", "atp", SKU, "--json").stdout)
    assert data["total"]["on_hand"] == sum(n["on_hand"] for n in data["nodes"])
    assert len(data["channels"]) == 6
    only = json.loads(orderloom(url, "inventory", "atp", SKU, "--channel", "web", "--json").stdout)
    assert [ch["channel"] for ch in only["channels"]] == ["web"]


def test_node_and_ledger_views(url: str) -> None:
    node = orderloom(url, "inventory", "node", DC, "--limit", "5")
    assert node.exit_code == 0, node.output
    assert "Reno" in node.output and "showing 5 of" in node.output
    ledger = orderloom(url, "inventory", "ledger", SKU, DC)
    assert ledger.exit_code == 0, ledger.output
    assert "DEMO-OPENING-S7" in ledger.output and "receipt" in ledger.output


def test_a_receipt_shows_in_the_ledger_and_the_balance(url: str) -> None:
    before = json.loads(orderloom(url, "inventory", "atp", SKU, "--json").stdout)["total"]["on_hand"]
    result = orderloom(url, "inventory", "receive", SKU, DC, "40", "--reference", "PO-1234")
    assert result.exit_code == 0, result.output
    assert "received 40" in result.output
    ledger = orderloom(url, "inventory", "ledger", SKU, DC, "--limit", "1").output
    assert "PO-1234" in ledger and "+40" in ledger
    assert json.loads(orderloom(url, "inventory", "atp", SKU, "--json").stdout)["total"]["on_hand"] == before + 40


def test_adjust_takes_a_negative_delta_and_count_sets_the_truth(url: str) -> None:
    adjust = orderloom(url, "inventory", "adjust", SKU, DC, "-3", "--reason", "damaged in storage")
    assert adjust.exit_code == 0, adjust.output
    assert "-3" in adjust.output
    count = orderloom(url, "inventory", "count", SKU, STORE, "2")
    assert count.exit_code == 0, count.output
    assert "on hand now 2" in count.output
    ledger = orderloom(url, "inventory", "ledger", SKU, STORE).output
    assert "cycle_count" in ledger
    assert orderloom(url, "reconcile").exit_code == 0


@pytest.mark.parametrize(("args", "code"), [
    (["inventory", "receive", SKU, DC, "-5"], "quantity.invalid"),
    (["inventory", "receive", SKU, DC, "0"], "quantity.invalid"),
    (["inventory", "receive", SKU, DC, "5x"], "quantity.invalid"),
    (["inventory", "receive", SKU, DC, "99999999999"], "quantity.invalid"),
    (["inventory", "receive", "NOPE-0001", DC, "5"], "catalog.unknown_sku"),
    (["inventory", "receive", "HOM-0001'; DROP TABLE skus;--", DC, "5"], "catalog.unknown_sku"),
    (["inventory", "receive", SKU, "[bold red]DC", "5"], "network.unknown_node"),
    (["inventory", "receive", SKU, DC, "5", "--reference", "PO\x1b[2J\x07"], "validation.control_characters"),
    (["inventory", "receive", SKU, DC, "5", "--reference", "R" * 10_000], "validation.too_long"),
    (["inventory", "adjust", SKU, DC, "0", "--reason", "nothing"], "quantity.invalid"),
    (["inventory", "adjust", SKU, DC, "-3", "--reason", "  "], "validation.required"),
    (["inventory", "adjust", SKU, DC, "-999999", "--reason", "too many"], "inventory.invariant"),
    (["inventory", "count", SKU, DC, "-1"], "quantity.invalid"),
    (["inventory", "atp", "\x1b]0;pwned\x07"], "catalog.unknown_sku"),
    (["inventory", "atp", SKU, "--channel", "telex"], "channel.unknown"),
    (["inventory", "ledger", SKU, "DC-NOWHERE"], "network.unknown_node"),
    (["orders", "show", "12345"], "order.unknown"),
    (["orders", "show", "../../etc/passwd"], "order.unknown"),
])
def test_bad_input_exits_2_with_the_error_code_and_changes_nothing(url: str, args: list[str], code: str) -> None:
    before = state(url)
    result = orderloom(url, *args)
    assert result.exit_code == 2, result.output
    assert code in result.output and "error" in result.output
    assert "Traceback" not in result.output
    assert "\x1b" not in result.output and "\x07" not in result.output  # control characters are shown escaped
    assert state(url) == before


def test_a_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = orderloom("mysql://somewhere/db", "holds", "expire")
    assert result.exit_code == 2 and "settings.invalid" in result.output
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    result = orderloom(f"sqlite:///{blocked}/x.db", "db", "upgrade")
    assert result.exit_code == 2 and "database.unavailable" in result.output
    assert "Traceback" not in result.output


def test_reconcile_is_clean_after_seeding_and_exits_1_on_drift_until_repaired(url: str) -> None:
    clean = orderloom(url, "reconcile", "--json")
    assert clean.exit_code == 0, clean.output
    assert json.loads(clean.stdout)["drift"] == []
    engine = create_db_engine(url)
    with engine.begin() as conn:  # a balance that no longer matches its ledger
        b = t.stock_balances.c
        conn.execute(update(t.stock_balances).where(b.sku == SKU, b.node == DC).values(on_hand=b.on_hand + 7))
    engine.dispose()
    drift = orderloom(url, "reconcile")
    assert drift.exit_code == 1 and SKU in drift.output and "+7" in drift.output
    repaired = orderloom(url, "reconcile", "--repair")
    assert repaired.exit_code == 0, repaired.output
    assert orderloom(url, "reconcile").exit_code == 0


def test_holds_expire_and_orders_show(url: str) -> None:
    application = bootstrap(database_url=url, migrate=False)
    placed = application.bus.handle(c.PlaceOrder(
        channel="web", external_id="W-1001", lines=(c.NewOrderLine(SKU, 2, Decimal("99.00")),),
        ship_to={"name": "Ada Byron", "line1": "1 Main St", "city": "Reno", "state": "NV",
                 "postal_code": "89501", "country": "US"}))
    application.bus.handle(c.AllocateOrder(order_id=placed["order_id"], allocations=(c.LineAllocation(1, DC, 2),)))
    application.close()
    expire = orderloom(url, "holds", "expire")
    assert expire.exit_code == 0 and "expired 0 hold(s)" in expire.output
    shown = orderloom(url, "orders", "show", placed["order_id"])
    assert shown.exit_code == 0, shown.output
    for text in ("W-1001", "allocated", SKU, DC, "validated", "Reservations"):
        assert text in shown.output
    data = json.loads(orderloom(url, "orders", "show", placed["order_id"], "--json").stdout)
    assert data["reservations"][0]["quantity"] == 2 and data["status"] == "allocated"


def test_every_command_has_help() -> None:
    from api.cli import app

    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("db", "seed", "inventory", "holds", "reconcile", "orders", "routing"):
        assert group in result.output


def test_demo_orders_are_placed_routed_and_explained(url: str) -> None:
    result = orderloom(url, "seed", "orders", "--count", "8")
    assert result.exit_code == 0, result.output
    assert "8 demo orders placed" in result.output and "cost vs nearest-with-stock" in result.output
    engine = create_db_engine(url)
    with engine.connect() as conn:
        statuses = dict(conn.execute(select(t.orders.c.id, t.orders.c.status)).all())
        decided = int(conn.execute(select(func.count()).select_from(t.routing_decisions)).scalar_one())
    engine.dispose()
    assert len(statuses) == 8 and set(statuses.values()) <= {"allocated", "exception"}
    assert decided >= 8
    routed = next(str(k) for k, v in statuses.items() if v == "allocated")
    explained = orderloom(url, "orders", "explain", routed)
    assert explained.exit_code == 0, explained.output
    for text in ("placement attempt 1: committed", "cost", "fixed-priority", "nearest-with-stock"):
        assert text in explained.output
    data = json.loads(orderloom(url, "orders", "explain", routed, "--json").stdout)
    assert data[0]["outcome"] == "committed" and data[0]["plan"] and "binding" in data[0]["explanation"]
    again = orderloom(url, "orders", "route", routed)
    assert again.exit_code == 2 and "state.illegal_transition" in again.output
    shadow = json.loads(orderloom(url, "routing", "shadow", "--json").stdout)
    assert shadow["decisions"] == sum(v == "allocated" for v in statuses.values())
    # More orders continue the numbering instead of colliding with the first ones.
    more = orderloom(url, "seed", "orders", "--count", "2", "--no-route")
    assert more.exit_code == 0 and "2 demo orders placed" in more.output


def test_routing_policies_can_be_created_switched_and_are_validated(url: str) -> None:
    listed = orderloom(url, "routing", "policies")
    assert listed.exit_code == 0 and "balanced" in listed.output
    made = orderloom(url, "routing", "create-policy", "margin first", "--weight", "split_penalty=1",
                     "--weight", "sla_risk=5", "--actor", "maria", "--activate")
    assert made.exit_code == 0 and "v2" in made.output and "active" in made.output
    bad = orderloom(url, "routing", "create-policy", "bad", "--weight", "speed=fast")
    assert bad.exit_code == 2 and "--weight speed=fast" in bad.output
    unknown = orderloom(url, "routing", "create-policy", "bad", "--weight", "speed=3")
    assert unknown.exit_code == 2 and "routing.unknown_weight" in unknown.output
    switched = orderloom(url, "routing", "activate", "1", "--actor", "maria", "--reason", "peak is over")
    assert switched.exit_code == 0
    missing = orderloom(url, "routing", "activate", "42")
    assert missing.exit_code == 2 and "routing.unknown_policy" in missing.output
    data = json.loads(orderloom(url, "routing", "policies", "--json").stdout)
    assert [(p["version"], p["active"]) for p in data] == [(1, True), (2, False)]
    assert orderloom(url, "orders", "explain", "99999").exit_code == 2
    reopt = orderloom(url, "routing", "reoptimise", "--json")
    assert reopt.exit_code == 0 and json.loads(reopt.stdout)["considered"] == 0


def test_intake_edi_prints_drafts_and_exits_2_on_rejected_input(url: str, tmp_path: Path,
                                                                realworld_dir: Path) -> None:
    corpus = realworld_dir / "x12" / "node-x12" / "850.edi"
    shown = orderloom(url, "intake", "edi", str(corpus))
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert len(data["drafts"]) == 1 and data["drafts"][0]["source"] == "x12" and data["rejections"] == []
    assert {p["code"] for p in data["drafts"][0]["problems"]} >= {"intake.unknown_sender", "catalog.unmatched"}
    garbage = tmp_path / "garbage.edi"
    garbage.write_bytes(b"hello, not an interchange")
    refused = orderloom(url, "intake", "edi", str(garbage))
    assert refused.exit_code == 2 and json.loads(refused.stdout)["code"] == "edi.not_x12"
    missing = orderloom(url, "intake", "edi", str(tmp_path / "nope.edi"))
    assert missing.exit_code == 2 and "intake.file" in missing.output


def test_intake_email_with_the_rules_baseline_prints_a_draft_and_submits_once(url: str, tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "scripts" / "samples" / "lakeshore-po.eml"
    shown = orderloom(url, "intake", "email", str(sample), "--llm", "fake")
    assert shown.exit_code == 0, shown.output
    draft = json.loads(shown.stdout)["draft"]
    assert draft["po_number"]["value"] == "LHS-20931" and draft["account_code"] == "ACC-LAKESHORE"
    assert [(ln["sku"], ln["quantity"]) for ln in draft["lines"]] == [("HOM-0002", "6"), ("HOM-0001", "4")]
    first = json.loads(orderloom(url, "intake", "email", str(sample), "--llm", "fake", "--submit").stdout)
    assert first["status"] == "accepted" and first["order_id"]
    again = json.loads(orderloom(url, "intake", "email", str(sample), "--llm", "fake", "--submit").stdout)
    assert again["duplicate"] and again["document"]["order_id"] == first["order_id"]
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"")
    refused = orderloom(url, "intake", "email", str(junk), "--llm", "fake")
    assert refused.exit_code == 2 and json.loads(refused.stdout)["code"] == "email.unreadable"
    assert orderloom(url, "intake", "email", str(sample), "--llm", "gpt9").exit_code == 2
