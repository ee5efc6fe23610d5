"""Every Prometheus metric of Relais, declared once (arroyo's metric_defs style).

Services import the metric objects from here; none creates its own ad hoc.
Label values are bounded (topics, event types, outcomes, reasons): never ids or
personal data.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES_CONSUMED = Counter(
    "relais_messages_consumed_total",
    "Messages taken from Kafka by a consumer, by outcome (processed, duplicate, dead_lettered).",
    ["group", "topic", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "relais_handler_seconds",
    "Time spent handling one message, retries included.",
    ["group", "topic"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HANDLER_RETRIES = Counter(
    "relais_handler_retries_total",
    "Retries of a handler after a transient failure.",
    ["group", "topic"],
)
DEAD_LETTERS = Counter(
    "relais_dead_letters_total",
    "Messages sent to the dead-letter topic, by reason kind.",
    ["group", "topic", "kind"],
)
OUTBOX_PUBLISHED = Counter(
    "relais_outbox_published_total",
    "Outbox rows published to Kafka by the relay.",
    ["schema", "topic"],
)
OUTBOX_BACKLOG = Gauge(
    "relais_outbox_backlog",
    "Outbox rows waiting to be published, as seen by the last relay pass.",
    ["schema"],
)
