"""`relais bench ...`: benchmarks that print figures (never timed tests).

One module per benchmark (`tracker`, `chat`, `detector`, `office`), what they share in `common`,
the typer app in `app`.
"""
