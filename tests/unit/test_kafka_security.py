"""Kafka transport settings: incoherent ones stop start-up naming the fields."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from relais_runtime.kafka_security import kafka_client_options, kafka_security_options
from relais_runtime.settings import ConfigurationError, KafkaSettings, load_settings


def test_plaintext_adds_nothing_to_the_client_options() -> None:
    settings = KafkaSettings(kafka_bootstrap="broker:9092")
    assert kafka_security_options(settings) == {}
    assert kafka_client_options(settings) == {"bootstrap_servers": "broker:9092"}


def test_sasl_ssl_gives_a_verifying_tls_context_and_the_credentials(tmp_path: Path) -> None:
    settings = KafkaSettings(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="relais",
        kafka_sasl_password="s3cret-value",
    )
    options = kafka_security_options(settings)
    context = options.pop("ssl_context")
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "relais",
        "sasl_plain_password": "s3cret-value",
    }
    assert "s3cret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"RELAIS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "kafka_sasl_password"),
        ({"RELAIS_KAFKA_SSL_CA_FILE": "/etc/hosts"}, "kafka_security_protocol is PLAINTEXT"),
        (
            {"RELAIS_KAFKA_SECURITY_PROTOCOL": "SSL", "RELAIS_KAFKA_SSL_CERT_FILE": "/etc/hosts"},
            "kafka_ssl_key_file go together",
        ),
        (
            {
                "RELAIS_KAFKA_SECURITY_PROTOCOL": "SSL",
                "RELAIS_KAFKA_SSL_CA_FILE": "/nonexistent.pem",
            },
            "kafka_ssl_ca_file: /nonexistent.pem is not a readable file",
        ),
        ({"RELAIS_KAFKA_SECURITY_PROTOCOL": "TLS"}, "RELAIS_KAFKA_SECURITY_PROTOCOL"),
    ],
)
def test_incoherent_transport_settings_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], named: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match="invalid configuration") as refused:
        load_settings(KafkaSettings)
    assert named in str(refused.value)
    assert "RELAIS_(ROOT)" not in str(refused.value)
