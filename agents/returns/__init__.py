"""The returns agents: the inspector's words into the condition schema."""
