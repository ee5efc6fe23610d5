"""How `relais topics apply` decides what to change."""

from __future__ import annotations

import pytest

from relais_cli.infra.base import InfraError
from relais_cli.infra.topics import (
    ConfigChange,
    TopicSpec,
    TopicState,
    parse_config_resources,
    plan,
    plan_topic,
)

SPEC = TopicSpec(
    name="relais.x.v1", partitions=6, configs={"cleanup.policy": "delete", "retention.ms": "1000"}
)


def _state(overrides: dict[str, str], *, partitions: int = 6) -> TopicState:
    """A topic whose topic-level overrides are `overrides`, on top of broker defaults."""
    configs = {"cleanup.policy": "delete", "retention.ms": "604800000", "segment.ms": "1"}
    configs.update(overrides)
    return TopicState(
        name=SPEC.name, partitions=partitions, configs=configs, overrides=frozenset(overrides)
    )


def test_missing_topic_is_created() -> None:
    result = plan_topic(SPEC, None)
    assert result.create
    assert result.changed
    assert result.describe()[0].startswith("+ relais.x.v1: created, 6 partitions")


def test_matching_topic_is_unchanged() -> None:
    result = plan_topic(SPEC, _state({"cleanup.policy": "delete", "retention.ms": "1000"}))
    assert not result.changed
    assert result.describe() == ["= relais.x.v1: unchanged"]


def test_differing_config_is_changed() -> None:
    result = plan_topic(SPEC, _state({"retention.ms": "5"}))
    assert result.config_changes == (ConfigChange(key="retention.ms", old="5", new="1000"),)
    assert result.grow_to is None


def test_an_override_the_registry_does_not_name_is_removed() -> None:
    result = plan_topic(
        SPEC, _state({"cleanup.policy": "delete", "retention.ms": "1000", "segment.ms": "1"})
    )
    assert result.config_changes == (ConfigChange(key="segment.ms", old="1", new=None),)
    assert "segment.ms 1 -> (default)" in result.describe()[0]


def test_partitions_grow_but_never_shrink() -> None:
    assert plan_topic(SPEC, _state({"retention.ms": "1000"}, partitions=3)).grow_to == 6
    shrink = plan_topic(SPEC, _state({"retention.ms": "1000"}, partitions=12))
    assert shrink.grow_to is None
    assert not shrink.changed
    assert "cannot remove partitions" in shrink.warnings[0]


def test_plan_keeps_registry_order_and_refuses_duplicates() -> None:
    other = TopicSpec(name="relais.a.v1", partitions=1, configs={})
    assert [p.spec.name for p in plan([SPEC, other], {})] == ["relais.x.v1", "relais.a.v1"]
    with pytest.raises(InfraError, match=r"relais\.x\.v1"):
        plan([SPEC, SPEC], {})


def test_describe_configs_v1_marks_topic_overrides_by_source() -> None:
    resources: list[tuple[object, ...]] = [
        (
            0,
            None,
            2,
            "t",
            [
                ("retention.ms", "1000", False, 1, False, []),
                ("cleanup.policy", "delete", False, 5, False, []),
                ("secret", None, False, 1, True, []),
            ],
        )
    ]
    configs, overrides = parse_config_resources(resources, api_version=2)["t"]
    assert configs == {"retention.ms": "1000", "cleanup.policy": "delete"}
    assert overrides == {"retention.ms", "secret"}


def test_describe_configs_v0_marks_overrides_by_is_default() -> None:
    resources = [(0, None, 2, "t", [("retention.ms", "1000", False, False, False)])]
    _, overrides = parse_config_resources(resources, api_version=0)["t"]
    assert overrides == {"retention.ms"}


def test_describe_configs_error_is_an_infra_error() -> None:
    with pytest.raises(InfraError, match="boom"):
        parse_config_resources([(3, "boom", 2, "t", [])], api_version=2)
