"""`relais chaos`: the six services as separate processes, real traffic, injected faults,
and a verification from the outside that nothing was lost or duplicated (docs/chaos.md).

Modules: plan (pure: the seeded schedule), infra (the isolated Kafka, PostgreSQL and SMTP
of a chaos run), processes (the supervisor of the services), traffic (orders, carrier
webhooks, chat answers, the merchant stub), faults (what each fault does), sampler
(throughput over time), verify (the checks), report (JSON, PNG, tables), runner (one run).
"""
