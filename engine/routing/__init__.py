"""Order sourcing: which nodes ship which lines with which carrier service, and why.

`instance` (pydantic models), `eligibility` (hard rules, pre-check), `costing` (the one cost function),
`solver` (CP-SAT), `greedy` (heuristic and fallback), `baselines` (fixed priority, nearest with stock),
`check` (pure validator), `explain` (stored explanations), `samples`/`save`/`bench` (random orders,
saved instances, latency measurement). Pure: no database, web or LLM imports.
"""
