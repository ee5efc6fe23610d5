"""Kafka topics from the registry: plan what differs, then create, reconfigure, grow.

Rules:
- the registry (relais_contracts.topics.ALL_TOPICS) owns its topics' configuration: a
  topic-level override that the registry does not name is removed (back to the broker
  default), and a changed value is set;
- partitions only grow; a topic with more partitions than the registry asks for is left
  as it is and reported, because Kafka cannot remove partitions;
- topics that are not in the registry are never touched;
- applying twice changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from relais_cli.infra.base import InfraError

TOPIC_ERROR_ALREADY_EXISTS = 36
CONFIG_SOURCE_DYNAMIC_TOPIC = 1
ADMIN_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class TopicSpec:
    """What the registry asks for."""

    name: str
    partitions: int
    configs: Mapping[str, str]


@dataclass(frozen=True)
class TopicState:
    """What the broker has: every effective config, and which of them are topic overrides."""

    name: str
    partitions: int
    configs: Mapping[str, str]
    overrides: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ConfigChange:
    """`new` None means: drop the override, back to the broker default."""

    key: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class TopicPlan:
    spec: TopicSpec
    create: bool = False
    grow_to: int | None = None
    config_changes: tuple[ConfigChange, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return self.create or self.grow_to is not None or bool(self.config_changes)

    def describe(self) -> list[str]:
        """Human-readable lines, one per change (or one saying nothing changed)."""
        name = self.spec.name
        if self.create:
            configs = ", ".join(f"{k}={v}" for k, v in sorted(self.spec.configs.items()))
            return [f"+ {name}: created, {self.spec.partitions} partitions, {configs}"]
        lines = [
            f"~ {name}: {change.key} {change.old or '(default)'} -> {change.new or '(default)'}"
            for change in self.config_changes
        ]
        if self.grow_to is not None:
            lines.append(f"~ {name}: partitions grown to {self.grow_to}")
        lines += [f"! {name}: {warning}" for warning in self.warnings]
        return lines or [f"= {name}: unchanged"]


def plan_topic(spec: TopicSpec, state: TopicState | None) -> TopicPlan:
    """The changes that make the broker's topic match the registry's spec."""
    if state is None:
        return TopicPlan(spec=spec, create=True)
    changes = [
        ConfigChange(key=key, old=state.configs.get(key), new=value)
        for key, value in sorted(spec.configs.items())
        if state.configs.get(key) != value
    ]
    changes += [
        ConfigChange(key=key, old=state.configs.get(key), new=None)
        for key in sorted(state.overrides - spec.configs.keys())
    ]
    warnings: tuple[str, ...] = ()
    if state.partitions > spec.partitions:
        warnings = (
            f"has {state.partitions} partitions, the registry asks for {spec.partitions}; "
            "Kafka cannot remove partitions, left as it is",
        )
    return TopicPlan(
        spec=spec,
        grow_to=spec.partitions if spec.partitions > state.partitions else None,
        config_changes=tuple(changes),
        warnings=warnings,
    )


def plan(specs: Sequence[TopicSpec], states: Mapping[str, TopicState]) -> list[TopicPlan]:
    """One plan per spec, in registry order; duplicate names in the registry are an error."""
    names = [spec.name for spec in specs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InfraError(f"topic registry names these topics twice: {', '.join(duplicates)}")
    return [plan_topic(spec, states.get(spec.name)) for spec in specs]


def parse_config_resources(
    resources: Iterable[Sequence[Any]], *, api_version: int
) -> dict[str, tuple[dict[str, str], frozenset[str]]]:
    """DescribeConfigs resources -> {topic: (configs, names of topic-level overrides)}.

    Entries are (name, value, read_only, is_default, is_sensitive) in version 0 and
    (name, value, read_only, config_source, is_sensitive, synonyms) from version 1.
    """
    parsed: dict[str, tuple[dict[str, str], frozenset[str]]] = {}
    for error_code, error_message, _type, name, entries in resources:
        if error_code:
            raise InfraError(f"describing the configs of {name} failed: {error_message}")
        configs: dict[str, str] = {}
        overrides: set[str] = set()
        for entry in entries:
            key, value, source = entry[0], entry[1], entry[3]
            if value is not None:
                configs[key] = value
            dynamic = not source if api_version == 0 else source == CONFIG_SOURCE_DYNAMIC_TOPIC
            if dynamic:
                overrides.add(key)
        parsed[name] = (configs, frozenset(overrides))
    return parsed


@asynccontextmanager
async def admin_client(
    bootstrap: str, security: Mapping[str, Any] | None = None
) -> AsyncIterator[Any]:
    """A started AIOKafkaAdminClient; an InfraError when the broker does not answer."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(ADMIN_TIMEOUT_S * 1000),
        **(security or {}),
    )
    try:
        try:
            async with asyncio.timeout(ADMIN_TIMEOUT_S):
                await admin.start()
        except Exception as error:
            raise InfraError(
                f"Kafka at {bootstrap} does not answer ({type(error).__name__}): "
                "start it with `relais infra up`"
            ) from None
        try:
            yield admin
        except KafkaError as error:
            raise InfraError(f"Kafka at {bootstrap}: {type(error).__name__}: {error}") from error
    finally:
        await admin.close()


async def read_states(admin: Any, *, names: Iterable[str] | None = None) -> dict[str, TopicState]:
    """The broker's view of the named topics (all topics when `names` is None)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    existing: list[str] = list(await admin.list_topics())
    wanted = existing if names is None else [name for name in names if name in existing]
    if not wanted:
        return {}
    metadata: list[dict[str, Any]] = await admin.describe_topics(wanted)
    partitions = {item["topic"]: len(item["partitions"]) for item in metadata}
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in wanted]
    )
    configs: dict[str, tuple[dict[str, str], frozenset[str]]] = {}
    for response in responses:
        configs |= parse_config_resources(response.resources, api_version=response.API_VERSION)
    return {
        name: TopicState(
            name=name,
            partitions=partitions.get(name, 0),
            configs=configs.get(name, ({}, frozenset()))[0],
            overrides=configs.get(name, ({}, frozenset()))[1],
        )
        for name in wanted
    }


async def execute(admin: Any, plans: Sequence[TopicPlan], *, replication_factor: int) -> None:
    """Carry out the plans: create, then set configs, then grow partitions."""
    await _create(admin, [p.spec for p in plans if p.create], replication_factor=replication_factor)
    await _alter_configs(admin, [p.spec for p in plans if p.config_changes])
    await _grow(admin, {p.spec.name: p.grow_to for p in plans if p.grow_to is not None})


async def _create(admin: Any, specs: Sequence[TopicSpec], *, replication_factor: int) -> None:
    from aiokafka.admin import NewTopic

    if not specs:
        return
    new_topics = [
        NewTopic(
            name=spec.name,
            num_partitions=spec.partitions,
            replication_factor=replication_factor,
            topic_configs=dict(spec.configs),
        )
        for spec in specs
    ]
    response = await admin.create_topics(new_topics)
    for topic_error in response.topic_errors:
        name, code = topic_error[0], topic_error[1]
        message = topic_error[2] if len(topic_error) > 2 else ""
        if code and code != TOPIC_ERROR_ALREADY_EXISTS:
            raise InfraError(f"creating topic {name} failed (error {code}): {message}")


async def _alter_configs(admin: Any, specs: Sequence[TopicSpec]) -> None:
    """AlterConfigs replaces a topic's whole override set with the registry's configs."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    if not specs:
        return
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=dict(spec.configs))
        for spec in specs
    ]
    for response in await admin.alter_configs(resources):
        for code, message, _type, name in response.resources:
            if code:
                raise InfraError(f"changing the configs of {name} failed (error {code}): {message}")


async def _grow(admin: Any, totals: Mapping[str, int]) -> None:
    from aiokafka.admin import NewPartitions

    if not totals:
        return
    await admin.create_partitions(
        {name: NewPartitions(total_count=total) for name, total in totals.items()}
    )


async def apply_topics(
    *,
    bootstrap: str,
    specs: Sequence[TopicSpec],
    replication_factor: int = 1,
    dry_run: bool = False,
    security: Mapping[str, Any] | None = None,
) -> list[TopicPlan]:
    """Make the broker's topics match `specs`; returns what was (or would be) changed."""
    async with admin_client(bootstrap, security) as admin:
        states = await read_states(admin, names=[spec.name for spec in specs])
        plans = plan(specs, states)
        if not dry_run:
            await execute(admin, plans, replication_factor=replication_factor)
    return plans


async def list_topics(
    *,
    bootstrap: str,
    include_internal: bool = False,
    security: Mapping[str, Any] | None = None,
) -> list[TopicState]:
    """Every topic on the broker, sorted by name; internal ones (`__…`) only when asked."""
    async with admin_client(bootstrap, security) as admin:
        states = await read_states(admin)
    return sorted(
        (state for state in states.values() if include_internal or not state.name.startswith("__")),
        key=lambda state: state.name,
    )
