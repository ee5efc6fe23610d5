"""Pure insights logic: facts from events, KPIs from facts, charts and CSV (no I/O)."""
