"""`orderloom serve` as a new user runs it: in an empty directory, a routed order within a minute, a clean
stop on Ctrl-C (SIGINT) and on SIGTERM, and a restart that finds everything where it was."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.browser import free_port

pytestmark = pytest.mark.slow
ROUTED = {"allocated", "released", "partially_shipped", "shipped", "delivered"}
KEY = re.compile(r"olk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def start(folder: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLOOM_")}
    env.update({"ORDERLOOM_LLM": "fake", "COLUMNS": "200", "PYTHONUNBUFFERED": "1"})
    orderloom = Path(sys.executable).parent / "orderloom"
    return subprocess.Popen([str(orderloom), "serve", "--port", str(port), "--orders-per-minute", "30",
                             "--status-every", "5"], cwd=folder, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen[str], sig: int) -> str:
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    return out


def wait_for(predicate: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    return None


def _watch(base: str, key: str) -> None:
    with contextlib.suppress(httpx.HTTPError), httpx.stream("GET", f"{base}/ui/events", headers={"X-API-Key": key},
                                                            timeout=None) as response:
        for _ in response.iter_lines():
            pass


def routed_orders(base: str, key: str) -> list[dict[str, Any]]:
    try:
        response = httpx.get(f"{base}/orders", params={"limit": 200}, headers={"X-API-Key": key}, timeout=5)
    except httpx.HTTPError:
        return []
    return [o for o in response.json() if o["status"] in ROUTED] if response.status_code == 200 else []


def read_key(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[str, list[str]]:
    """Read the server's output until it prints the admin key (it does so once, on the first start)."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = KEY.search(line)
        if found:
            return found.group(0), lines
    raise AssertionError("no API key printed:\n" + "".join(lines))


def test_serve_in_an_empty_directory_routes_orders_and_restarts_with_nothing_lost(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    proc = start(tmp_path, port)
    try:
        key, _ = read_key(proc)
        first = wait_for(lambda: routed_orders(base, key), timeout=max(5.0, 60 - (time.monotonic() - started)))
        assert first, "no routed order within 60 seconds of `orderloom serve`"
        assert time.monotonic() - started <= 60
        assert httpx.get(f"{base}/ready").json()["status"] == "ready"
        metrics = httpx.get(f"{base}/metrics", headers={"X-API-Key": key}).text
        assert re.search(r'^orderloom_orders\{status="[a-z_]+"\} [1-9]', metrics, re.M), metrics[:2000]
        time.sleep(3)
        before = {o["order_id"]: o for o in httpx.get(f"{base}/orders", params={"limit": 200},
                                                        headers={"X-API-Key": key}).json()}
        watching = threading.Thread(target=_watch, args=(base, key), daemon=True)  # a dashboard left open
        watching.start()
        time.sleep(1)
    finally:
        asked = time.monotonic()
        out = stop(proc, signal.SIGINT)
    assert proc.returncode == 0, out
    # Requests in flight get 10 s at shutdown: an open event stream must not be one of them.
    assert time.monotonic() - asked < 10, "an open dashboard must not hold up Ctrl-C"
    assert "stopped cleanly" in out
    assert {p.name for p in tmp_path.iterdir()} >= {"orderloom.db", "orderloom.log"}
    logged = [json.loads(line) for line in (tmp_path / "orderloom.log").read_text().splitlines()]
    requests = [x for x in logged if x["message"] == "request"]
    assert requests and all({"ts", "level", "request_id", "route", "status", "duration_ms"} <= set(x) for x in requests)
    assert not any("olk_" in json.dumps(x) for x in logged)  # credentials never reach the log

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port)
    try:
        up = wait_for(lambda: routed_orders(base, key), timeout=60)  # the same key still works: nothing reset
        assert up
        after = {oid: httpx.get(f"{base}/orders/{oid}", headers={"X-API-Key": key}).json() for oid in before}
    finally:
        out = stop(proc, signal.SIGTERM)
    assert proc.returncode == 0, out
    assert not KEY.search(out), "a restart must not mint another admin key"
    assert "demo network seeded" not in out
    for order_id, order in before.items():  # every order from before the restart, as it was or further along
        assert after[order_id]["external_id"] == order["external_id"]
        assert after[order_id]["status"] == order["status"] or after[order_id]["status"] in ROUTED | {"exception"}
