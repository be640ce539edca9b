"""Choose the chat model by configuration: `local` (bundled), `openai` (any compatible endpoint), `fake`."""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel

from engine.settings import Settings, get_settings


def chat_model(kind: str | None = None, settings: Settings | None = None, **options: Any) -> BaseChatModel:
    """The configured chat model. `fake` needs `responses=` (see agents/llm/fake.py)."""
    settings = settings or get_settings()
    kind = kind or settings.llm
    if kind == "fake":
        from agents.llm.fake import ScriptedChatModel

        return ScriptedChatModel(**options)
    from langchain_openai import ChatOpenAI

    if kind == "local":
        from agents.llm.local import LocalModelServer

        server = LocalModelServer.ensure(settings.model_cache_dir, settings.llm_port)
        return ChatOpenAI(base_url=server.base_url, api_key="local", model="local", temperature=0,  # type: ignore[arg-type]
                          max_retries=1, timeout=300, **options)
    if kind == "openai":
        key = os.environ.get("OPENAI_API_KEY") or ("none" if settings.llm_base_url else None)
        if key is None:
            raise RuntimeError("ORDERLOOM_LLM=openai needs OPENAI_API_KEY, or ORDERLOOM_LLM_BASE_URL for a "
                               "local OpenAI-compatible server")
        return ChatOpenAI(base_url=settings.llm_base_url, api_key=key, model=settings.llm_model,  # type: ignore[arg-type]
                          temperature=0, max_retries=2, timeout=60, **options)
    raise ValueError(f"unknown model kind {kind!r}: use local, openai or fake")
