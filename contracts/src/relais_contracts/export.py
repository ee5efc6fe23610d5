"""JSON Schema and AsyncAPI documents, generated from the models and the registry.

Rules:
- generated, never written by hand: `export(directory)` writes one JSON Schema
  (draft 2020-12) per message type of every topic, `<topic>/<EventType>.v<N>.schema.json`,
  the merchant webhook bodies under `webhooks/`, and one AsyncAPI 3.0 document,
  `asyncapi.json` (channels = topics, messages = event types, Kafka bindings);
- schemas describe the wire format a producer writes (serialization mode: every
  field present); readers ignore unknown properties, so no schema forbids them;
- output is deterministic: the same models give byte-identical files, so the copy
  committed in contracts/schemas/ shows every schema change in review.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from relais_contracts.envelope import Event
from relais_contracts.registry import Topic, event_type_of, schema_version_of
from relais_contracts.topics import ALL_TOPICS
from relais_contracts.webhooks import WEBHOOK_MODELS

SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_FILE: Final = "asyncapi.json"
KAFKA_BINDING_VERSION: Final = "0.5.0"
COMMITTED_DIR: Final = Path(__file__).resolve().parents[2] / "schemas"
"""contracts/schemas in a source checkout."""

_TOPIC_CONFIG_KEYS: Final = (
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "delete.retention.ms",
    "max.message.bytes",
)


def schema_path(topic: Topic, model: type[Event]) -> str:
    return f"{topic.name}/{event_type_of(model)}.v{schema_version_of(model)}.schema.json"


def message_schema(topic: Topic, model: type[Event]) -> dict[str, Any]:
    """The JSON Schema of one message type on one topic."""
    schema = model.model_json_schema(mode="serialization")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:relais:schema:{topic.name}:{event_type_of(model)}:v{schema_version_of(model)}",
        **schema,
        "x-topic": topic.name,
        "x-key": topic.key,
    }


def webhook_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:relais:schema:webhooks:{model.__name__}:v1",
        **model.model_json_schema(mode="serialization"),
    }


def _version() -> str:
    try:
        return metadata.version("relais-contracts")
    except metadata.PackageNotFoundError:  # pragma: no cover - source tree without install
        return "0.0.0"


def _examples(topic: Topic, event_type: str) -> list[dict[str, Any]]:
    directory = topic.examples_dir()
    if not directory.is_dir():
        return []
    out = []
    for path in sorted(directory.glob(f"{event_type}*.json")):
        if path.stem != event_type and not path.stem.startswith(f"{event_type}-"):
            continue
        out.append({"name": path.stem, "payload": json.loads(path.read_text(encoding="utf-8"))})
    return out


def asyncapi_document() -> dict[str, Any]:
    """One AsyncAPI 3.0 document for every topic of the registry."""
    models: list[type[Event]] = []
    for topic in ALL_TOPICS:
        models.extend(m for m in topic.message_types if m not in models)
    refs, definitions = models_json_schema(
        [(m, "serialization") for m in models],
        ref_template="#/components/schemas/{model}",
    )

    messages: dict[str, Any] = {}
    for model in models:
        event_type = event_type_of(model)
        home = next(t for t in ALL_TOPICS if model in t.message_types)
        messages[event_type] = {
            "name": event_type,
            "title": event_type,
            "summary": " ".join((model.__doc__ or event_type).split("\n\n")[0].split()),
            "contentType": "application/json",
            "correlationId": {"location": "$message.payload#/correlation_id"},
            "payload": refs[(model, "serialization")],
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": home.key},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
            "examples": _examples(home, event_type),
        }

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        config: dict[str, Any] = {}
        for key, value in topic.kafka_config().items():
            if key not in _TOPIC_CONFIG_KEYS:
                continue
            config[key] = [value] if key == "cleanup.policy" else int(value)
        channel_messages = {
            event_type: {"$ref": f"#/components/messages/{event_type}"}
            for event_type in topic.event_types
        }
        channels[topic.name] = {
            "address": topic.name,
            "title": topic.name,
            "description": topic.description.strip(),
            "messages": channel_messages,
            "bindings": {
                "kafka": {
                    "topic": topic.name,
                    "partitions": topic.partitions,
                    "topicConfiguration": config,
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        roles = [("send", s.value) for s in topic.producers]
        roles += [("receive", s.value) for s in topic.consumers]
        for action, service in roles:
            operations[f"{service}.{action}.{topic.name}"] = {
                "action": action,
                "channel": {"$ref": f"#/channels/{topic.name}"},
                "messages": [
                    {"$ref": f"#/channels/{topic.name}/messages/{event_type}"}
                    for event_type in topic.event_types
                ],
                "tags": [{"name": service}],
            }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Relais events",
            "version": _version(),
            "description": "Every Kafka topic of Relais and the messages it carries. "
            "Generated from relais_contracts; do not edit.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The single-node KRaft broker of `relais infra up`.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": definitions.get("$defs", {}), "messages": messages},
    }


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """Every exported file: {relative path: content}."""
    files: dict[str, str] = {}
    for topic in ALL_TOPICS:
        for model in topic.message_types:
            files[schema_path(topic, model)] = _dump(message_schema(topic, model))
    for hook in WEBHOOK_MODELS:
        files[f"webhooks/{hook.__name__}.v1.schema.json"] = _dump(webhook_schema(hook))
    files[ASYNCAPI_FILE] = _dump(asyncapi_document())
    return files


def export(directory: Path, *, clean: bool = False) -> list[Path]:
    """Write every exported file under `directory`; with `clean`, first remove files
    a previous export wrote that no longer exist. Returns the written paths."""
    directory = Path(directory)
    files = render()
    if clean and directory.is_dir():
        for old in [*directory.rglob("*.schema.json"), directory / ASYNCAPI_FILE]:
            if old.is_file() and old.relative_to(directory).as_posix() not in files:
                old.unlink()
    written = []
    for relative, content in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        written.append(path)
    return written
