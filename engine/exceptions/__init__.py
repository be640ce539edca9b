"""Exception detection: screening rules and the anomaly model. Pure: no persistence, web or LLM."""
