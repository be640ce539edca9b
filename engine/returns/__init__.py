"""Returns intelligence, pure: the return-abuse score and restock routing (no persistence, no LLM)."""
