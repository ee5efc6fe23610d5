"""Personal data in the contracts: how it is marked and how it is kept out of logs.

Rules:
- every field that holds personal data (names, email addresses, phone numbers, postal
  addresses, free text a customer typed, voucher codes, raw carrier payloads) carries
  `json_schema_extra=PERSONAL`, which puts `"x-personal-data": true` in its JSON Schema;
- a field holding a model that contains personal data is itself marked, so that the
  whole value is redacted at once;
- logs and error messages never contain a personal field's value: log `redact(event)`
  (or only ids and enums), never `event.model_dump()`.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Final

from pydantic import BaseModel

PERSONAL_DATA: Final = "x-personal-data"
PERSONAL: Final[dict[str, Any]] = {PERSONAL_DATA: True}
REDACTED: Final = "[redacted]"


def redact(model: BaseModel) -> dict[str, Any]:
    """The model as JSON-compatible data with every personal value replaced by REDACTED.

    Works on any contract model, nested models, lists and unions included; a union
    branch that marks a key personal makes that key personal everywhere in the union.
    """
    schema = _serialization_schema(type(model))
    data = model.model_dump(mode="json")
    result = _redact(data, schema, schema.get("$defs", {}))
    assert isinstance(result, dict)
    return result


def personal_paths(model_type: type[BaseModel]) -> frozenset[str]:
    """Dotted paths of the personal fields of a model (`recipient.email`, `delivery.address`)."""
    schema = _serialization_schema(model_type)
    paths: set[str] = set()
    _collect(schema, schema.get("$defs", {}), "", paths, depth=0)
    return frozenset(paths)


@cache
def _serialization_schema(model_type: type[BaseModel]) -> dict[str, Any]:
    return model_type.model_json_schema(mode="serialization")


def _resolve(schema: Any, defs: dict[str, Any]) -> dict[str, Any]:
    while isinstance(schema, dict) and "$ref" in schema and PERSONAL_DATA not in schema:
        schema = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
    return schema if isinstance(schema, dict) else {}


def _branches(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    alternatives = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if alternatives:
        out: list[dict[str, Any]] = []
        for branch in alternatives:
            out.extend(_branches(_resolve(branch, defs), defs))
        return out
    return [schema]


def _redact(value: Any, schema: Any, defs: dict[str, Any]) -> Any:
    schema = _resolve(schema, defs)
    if schema.get(PERSONAL_DATA):
        return None if value is None else REDACTED
    branches = _branches(schema, defs)
    if any(branch.get(PERSONAL_DATA) for branch in branches):
        return None if value is None else REDACTED
    if isinstance(value, dict):
        properties: dict[str, Any] = {}
        for branch in branches:
            for key, sub in branch.get("properties", {}).items():
                resolved = _resolve(sub, defs)
                if key not in properties or resolved.get(PERSONAL_DATA):
                    properties[key] = resolved
        return {key: _redact(item, properties.get(key, {}), defs) for key, item in value.items()}
    if isinstance(value, list):
        items = [branch.get("items", {}) for branch in branches if "items" in branch]
        item_schema = items[0] if items else {}
        return [_redact(item, item_schema, defs) for item in value]
    return value


def _collect(schema: Any, defs: dict[str, Any], prefix: str, out: set[str], depth: int) -> None:
    if depth > 12:
        return
    for branch in _branches(_resolve(schema, defs), defs):
        for key, sub in branch.get("properties", {}).items():
            path = f"{prefix}{key}"
            resolved = _resolve(sub, defs)
            if resolved.get(PERSONAL_DATA) or any(
                b.get(PERSONAL_DATA) for b in _branches(resolved, defs)
            ):
                out.add(path)
            else:
                _collect(resolved, defs, f"{path}.", out, depth + 1)
                items = [b["items"] for b in _branches(resolved, defs) if "items" in b]
                for item in items:
                    _collect(item, defs, f"{path}[].", out, depth + 1)
