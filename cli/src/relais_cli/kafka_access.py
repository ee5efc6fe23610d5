"""How the CLI's Kafka tools (topics, dead letters) reach a secured broker.

The same `RELAIS_KAFKA_*` variables the services read (relais_runtime.settings
KafkaSettings): an operator points `relais topics apply` or `relais dead-letters` at a
managed cluster with the credentials the services use. A bad value stops the command
with the variable named.
"""

from __future__ import annotations

from typing import Any

from relais_runtime.kafka_security import kafka_security_options
from relais_runtime.settings import KafkaSettings, load_settings


def kafka_security_from_env() -> dict[str, Any]:
    return kafka_security_options(load_settings(KafkaSettings))
