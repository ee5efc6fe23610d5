"""Where a contract holds free text: the fields control characters must never pass.

Rules:
- a free-text field is a `str` field with no pattern of its own (ids, slugs and codes
  have one and refuse control characters with it) that is not `NeutralizedLine`
  (third-party wording Relais reports, where control characters become spaces by
  design);
- `SingleLine` and `MultiLine` fields declare their rule (relais_contracts.text): the
  fuzzer puts control characters there and expects a refusal; a plain `str` field
  declares none (`plain`): it may be raw third-party bytes (a carrier payload), so the
  fuzzer only lists it for review;
- a path names JSON keys from the message's root; `*` stands for every item of a list
  or every value of a mapping;
- nothing here does I/O.
"""

from __future__ import annotations

import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from relais_contracts.text import TextRule

ANY_ITEM = "*"
MAX_DEPTH = 8


class TextKind(StrEnum):
    SINGLE_LINE = "single_line"
    MULTI_LINE = "multi_line"
    PLAIN = "plain"
    """A `str` with neither a pattern nor a text rule."""


@dataclass(frozen=True)
class TextField:
    path: tuple[str, ...]
    kind: TextKind

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def text_fields(model: type[BaseModel]) -> list[TextField]:
    """Every free-text field of `model`, nested models included, in declaration order
    (a field reached through two members of a union is listed once)."""
    return list(dict.fromkeys(_model_fields(model, (), depth=0)))


def declared_text_fields(model: type[BaseModel]) -> list[TextField]:
    """The free-text fields that declare a control-character rule (SingleLine, MultiLine)."""
    return [field for field in text_fields(model) if field.kind is not TextKind.PLAIN]


def _model_fields(
    model: type[BaseModel], path: tuple[str, ...], *, depth: int
) -> Iterator[TextField]:
    if depth > MAX_DEPTH:
        return
    for name, field in model.model_fields.items():
        key = field.alias or name
        yield from _walk(field.annotation, list(field.metadata), (*path, key), depth=depth)


def _walk(
    annotation: Any, metadata: list[Any], path: tuple[str, ...], *, depth: int
) -> Iterator[TextField]:
    origin = get_origin(annotation)
    if origin is Annotated:
        inner, *extra = get_args(annotation)
        yield from _walk(inner, [*metadata, *extra], path, depth=depth)
    elif origin is Union or origin is types.UnionType:
        for option in get_args(annotation):
            if option is not type(None):
                yield from _walk(option, metadata, path, depth=depth)
    elif _is_collection(origin):
        for item in get_args(annotation):
            if item is not Ellipsis:
                yield from _walk(item, [], (*path, ANY_ITEM), depth=depth)
    elif origin is dict or _is_abc(origin, Mapping):
        arguments = get_args(annotation)
        if len(arguments) == 2:
            yield from _walk(arguments[1], [], (*path, ANY_ITEM), depth=depth)
    else:
        yield from _leaf(annotation, metadata, path, depth=depth)


def _leaf(
    annotation: Any, metadata: list[Any], path: tuple[str, ...], *, depth: int
) -> Iterator[TextField]:
    """A `str` (a text field, unless a pattern or a neutralizing rule says otherwise) or
    a nested model; anything else holds no free text."""
    if annotation is str:
        kind = _text_kind(metadata)
        if kind is not None:
            yield TextField(path=path, kind=kind)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from _model_fields(annotation, path, depth=depth + 1)


def _is_collection(origin: Any) -> bool:
    return origin in (list, tuple, set, frozenset) or _is_abc(origin, Sequence)


def _is_abc(origin: Any, abc: type) -> bool:
    return isinstance(origin, type) and origin is not str and issubclass(origin, abc)


def _text_kind(metadata: list[Any]) -> TextKind | None:
    for item in metadata:
        if isinstance(item, TextRule):
            if item.neutralize:
                return None
            return TextKind.MULTI_LINE if item.allow_newline else TextKind.SINGLE_LINE
    if any(getattr(item, "pattern", None) for item in metadata):
        return None
    return TextKind.PLAIN


def text_leaves(message: Any, field: TextField) -> list[tuple[str | int, ...]]:
    """The concrete paths of `message` (decoded JSON) where `field` holds a string."""
    found: list[tuple[str | int, ...]] = []

    def visit(node: Any, rest: tuple[str, ...], at: tuple[str | int, ...]) -> None:
        if not rest:
            if isinstance(node, str):
                found.append(at)
            return
        head, tail = rest[0], rest[1:]
        if head == ANY_ITEM:
            if isinstance(node, list):
                for index, item in enumerate(node):
                    visit(item, tail, (*at, index))
            elif isinstance(node, dict):
                for key, item in node.items():
                    visit(item, tail, (*at, key))
        elif isinstance(node, dict) and head in node:
            visit(node[head], tail, (*at, head))

    visit(message, field.path, ())
    return found
