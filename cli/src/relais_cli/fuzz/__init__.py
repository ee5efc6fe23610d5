"""`relais fuzz`: bad input at every edge of a running Relais, counted and reported.

Modules:
- text_fields, messages, webhook_cases, form_cases, har, health: pure (no I/O),
  unit-tested in tests/unit/fuzz;
- infra: the isolated Kafka, PostgreSQL and SMTP catcher of a fuzz run;
- stack: the six services started in this process against that infrastructure;
- http, webhooks, kafka, forms: the four phases, in that order;
- report: the summary table, report.json and report.html;
- runner: one run from start to end (docs/fuzzing.md).
"""
