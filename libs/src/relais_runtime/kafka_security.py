"""Transport security of every Kafka client a process makes, built once from its settings.

Producers, pipeline consumers, admin clients and the CLI's tools all take their
connection options from `kafka_client_options(settings)`, so a broker that needs TLS
and SCRAM is reached the same way by all of them. The TLS context verifies the broker's
certificate against `kafka_ssl_ca_file` (else the system's CAs) and its host name
unless `kafka_ssl_check_hostname` is off; it never falls back to an unverified one.
"""

from __future__ import annotations

import ssl
from typing import Any

from relais_runtime.settings import KafkaSettings


def kafka_ssl_context(settings: KafkaSettings) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_ca_file) if settings.kafka_ssl_ca_file else None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = settings.kafka_ssl_check_hostname
    if settings.kafka_ssl_cert_file is not None and settings.kafka_ssl_key_file is not None:
        password = settings.kafka_ssl_key_password
        context.load_cert_chain(
            certfile=str(settings.kafka_ssl_cert_file),
            keyfile=str(settings.kafka_ssl_key_file),
            password=password.get_secret_value() if password is not None else None,
        )
    return context


def kafka_security_options(settings: KafkaSettings) -> dict[str, Any]:
    """The keyword arguments aiokafka's clients take for security; none for PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol in {"SSL", "SASL_SSL"}:
        options["ssl_context"] = kafka_ssl_context(settings)
    if protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": password.get_secret_value() if password else None,
        }
    return options


def kafka_client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Bootstrap servers plus security: everything a client needs to reach the brokers."""
    return {"bootstrap_servers": settings.kafka_bootstrap} | kafka_security_options(settings)
