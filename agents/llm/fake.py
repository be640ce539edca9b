"""A scripted chat model for tests and CI: the same calls as a real model, answers from a script.

`ScriptedChatModel(responses=[...])` answers each call with the next response (a dict or model becomes JSON,
a string is returned as is); `ScriptedChatModel(handler=fn)` answers `fn(messages, schema)` instead, which
lets a test or an eval plug in a deterministic rule-based extractor. `with_structured_output(Schema,
method="json_schema")` validates the answer against the schema exactly as the real path does, so a script
that does not fit the schema fails loudly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field


class ScriptExhausted(RuntimeError):
    pass


class ScriptedChatModel(BaseChatModel):
    responses: list[Any] = Field(default_factory=list)
    handler: Callable[[Sequence[BaseMessage], type[BaseModel] | None], Any] | None = None
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.calls.append(list(messages))
        schema = kwargs.get("schema")
        if self.handler is not None:
            value = self.handler(messages, schema)
        elif self.responses:
            value = self.responses.pop(0)
        else:
            raise ScriptExhausted(f"the script has no answer left for call {len(self.calls)}")
        if isinstance(value, BaseModel):
            content = value.model_dump_json()
        elif isinstance(value, str):
            content = value
        else:
            content = json.dumps(value, default=str)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=content))])

    def with_structured_output(self, schema: Any, *, include_raw: bool = False,
                               **kwargs: Any) -> Runnable[LanguageModelInput, Any]:
        if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
            raise TypeError("the scripted model validates against pydantic models only")
        model: type[BaseModel] = schema

        def parse(message: Any) -> BaseModel:
            return model.model_validate_json(message.content)

        return self.bind(schema=model) | RunnableLambda(parse)
