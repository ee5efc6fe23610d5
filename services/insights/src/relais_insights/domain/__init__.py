"""Pure insights rules: facts from events, KPIs from facts, the period, the CSV export (no I/O)."""
