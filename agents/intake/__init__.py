"""The intake agent: reads order emails into validated order drafts. It has no tool that changes state."""
