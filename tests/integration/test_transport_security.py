"""Transport security for real: a service on SASL_SSL Kafka and TLS PostgreSQL.

The broker and the database are started here with certificates made for this run
(tests/integration/tls_infra.py); the shared infrastructure is not touched. A service
built by the runtime (RunningService: migrations, pool, producer, pipeline consumers,
admin client of `consumer_new_groups_start=now`, outbox relay) runs against them with
SCRAM-SHA-512 and `sslmode=verify-full`; then PLAIN, client certificates, and what
must be refused (a wrong password, an unknown CA, no client certificate).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from relais_contracts.envelope import Event
from relais_runtime.consumer import MessageContext, Subscription
from relais_runtime.kafka import make_producer
from relais_runtime.kafka_security import kafka_client_options
from relais_runtime.outbox import enqueue
from relais_runtime.service import Dependencies, RunningService, ServiceSpec, Wiring
from relais_runtime.settings import KafkaSettings, RuntimeSettings
from tests.conftest import Infrastructure, free_port
from tests.integration.conftest import eventually
from tests.integration.harness import MIGRATIONS, ParcelPinged, make_topic, ping
from tests.integration.tls_infra import (
    PASSWORD,
    PLAIN_USER,
    SCRAM_USER,
    Certificates,
    SecuredKafka,
    TlsPostgres,
    make_certificates,
    secured_kafka,
    tls_postgres,
)

pytestmark = pytest.mark.timeout(300)


@dataclass(frozen=True)
class Secured:
    certificates: Certificates
    kafka: SecuredKafka
    postgres: TlsPostgres

    def scram(self, **overrides: Any) -> dict[str, Any]:
        return {
            "kafka_bootstrap": self.kafka.sasl_ssl,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": SCRAM_USER,
            "kafka_sasl_password": PASSWORD,
            "kafka_ssl_ca_file": self.certificates.ca,
        } | overrides


@pytest.fixture(scope="module")
async def secured(
    infrastructure: Infrastructure, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Secured]:
    if infrastructure.origin != "local":
        pytest.skip("the secured broker runs from the jars `relais infra up` fetched")
    directory: Path = tmp_path_factory.mktemp("tls")
    certificates = make_certificates(directory / "certs")
    async with (
        secured_kafka(directory / "kafka", certificates) as kafka,
        tls_postgres(certificates) as postgres,
    ):
        yield Secured(certificates, kafka, postgres)


async def create_topic(settings: KafkaSettings, name: str) -> None:
    admin = AIOKafkaAdminClient(**kafka_client_options(settings))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 2, 1)])
    finally:
        await admin.close()


async def read_all(settings: KafkaSettings, topic: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        **kafka_client_options(settings), group_id=None, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, number) for number in range(2)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        while len(values) < expected:
            batches = await consumer.getmany(timeout_ms=10_000)
            if not batches:
                break
            values += [record.value or b"" for batch in batches.values() for record in batch]
        return values
    finally:
        await consumer.stop()


async def test_a_service_runs_on_sasl_ssl_kafka_and_verify_full_postgresql(
    secured: Secured, unique: str
) -> None:
    pings, echoes = (
        make_topic(f"relais.test-tls-pings-{unique}.v1"),
        make_topic(f"relais.test-tls-echoes-{unique}.v1"),
    )
    settings = RuntimeSettings(
        **secured.scram(),
        database_url=secured.postgres.url(
            f"sslmode=verify-full&sslrootcert={secured.certificates.ca}"
        ),
        http_port=free_port(),
        consumer_new_groups_start="now",
        outbox_poll_interval_s=0.1,
    )
    for topic in (pings, echoes):
        await create_topic(settings, topic.name)

    async def echo(event: Event, context: MessageContext) -> None:
        assert isinstance(event, ParcelPinged)
        await context.connection.execute(
            "INSERT INTO handled (event_id, note, attempt) VALUES ($1, $2, 1)",
            event.event_id,
            event.note,
        )
        await enqueue(context.connection, topic=echoes, events=[ping(f"echo-{event.note}")])

    def wire(_dependencies: Dependencies[RuntimeSettings]) -> Wiring:
        return Wiring(subscriptions=(Subscription(pings, "tls.echo", echo),))

    schema = f"tls_{unique}"
    service = RunningService(
        ServiceSpec(name="tls", schema=schema, migrations_dir=MIGRATIONS, wire=wire), settings
    )
    await service.start()
    producer = make_producer(settings, client_id="tls-test")
    await producer.start()
    try:
        for number in range(5):
            key, value = pings.encode(ping(f"p{number}"))
            await producer.send_and_wait(pings.name, key=key, value=value)
        echoed = await eventually(
            lambda: _read_when(settings, echoes.name, 5), timeout_s=60, interval_s=1
        )
        assert sorted(ParcelPinged.model_validate_json(v).note for v in echoed) == sorted(
            f"echo-p{number}" for number in range(5)
        )
        connection = await asyncpg.connect(settings.database_url)
        try:
            handled = await connection.fetchval(
                f'SELECT count(*) FROM "{schema}".handled'  # noqa: S608 - a test schema name
            )
            tls_backends = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
                "WHERE ssl AND application_name = $1",
                f"relais-{schema}",
            )
        finally:
            await connection.close()
        assert handled == 5
        assert tls_backends >= 1, "the service's pool must connect over TLS"
    finally:
        await producer.stop()
        await service.stop()


async def _read_when(settings: KafkaSettings, topic: str, expected: int) -> list[bytes]:
    values = await read_all(settings, topic, expected)
    return values if len(values) >= expected else []


async def test_plain_credentials_and_client_certificates_reach_the_broker(
    secured: Secured, unique: str
) -> None:
    scram = KafkaSettings(**secured.scram())
    topic = f"relais.test-tls-any-{unique}.v1"
    await create_topic(scram, topic)
    plain = KafkaSettings(
        **secured.scram(
            kafka_sasl_mechanism="PLAIN",
            kafka_sasl_username=PLAIN_USER,
            kafka_sasl_password=PASSWORD,
        )
    )
    mutual = KafkaSettings(
        kafka_bootstrap=secured.kafka.ssl,
        kafka_security_protocol="SSL",
        kafka_ssl_ca_file=secured.certificates.ca,
        kafka_ssl_cert_file=secured.certificates.client_cert,
        kafka_ssl_key_file=secured.certificates.client_key,
    )
    for name, settings in (("plain", plain), ("mutual", mutual)):
        producer = make_producer(settings, client_id=f"tls-{name}")
        await producer.start()
        try:
            await producer.send_and_wait(topic, key=name.encode(), value=name.encode())
        finally:
            await producer.stop()
    assert sorted(await read_all(mutual, topic, 2)) == [b"mutual", b"plain"]


@pytest.mark.parametrize(
    "case",
    ["wrong password", "unknown CA", "no client certificate", "plaintext to a TLS port"],
)
async def test_what_a_secured_broker_must_refuse(secured: Secured, case: str) -> None:
    settings = {
        "wrong password": lambda: KafkaSettings(**secured.scram(kafka_sasl_password="not-it")),
        "unknown CA": lambda: KafkaSettings(**secured.scram(kafka_ssl_ca_file=None)),
        "no client certificate": lambda: KafkaSettings(
            kafka_bootstrap=secured.kafka.ssl,
            kafka_security_protocol="SSL",
            kafka_ssl_ca_file=secured.certificates.ca,
        ),
        "plaintext to a TLS port": lambda: KafkaSettings(kafka_bootstrap=secured.kafka.sasl_ssl),
    }[case]()
    producer = AIOKafkaProducer(**kafka_client_options(settings), request_timeout_ms=5000)
    try:
        with pytest.raises((KafkaError, OSError)):
            await producer.start()
    finally:
        await producer.stop()


async def test_postgresql_without_the_ca_refuses_verify_full(secured: Secured) -> None:
    with pytest.raises((OSError, asyncpg.PostgresError, ValueError)):
        await asyncpg.connect(secured.postgres.url("sslmode=verify-full&sslrootcert=/nonexistent"))
    connection = await asyncpg.connect(secured.postgres.url("sslmode=require"))
    try:
        assert await connection.fetchval("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
    finally:
        await connection.close()
