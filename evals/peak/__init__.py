"""A peak day through the whole engine with planted faults: touchless, escalation and missed-fault rates."""
