"""Language models for the agents: the bundled local model, any OpenAI-compatible endpoint, scripted fakes."""

from agents.llm.models import chat_model

__all__ = ["chat_model"]
