"""Reading the model's type hints once: shared by the converter and the JSON Schema generator."""

from __future__ import annotations

import dataclasses
import types
import typing
from functools import lru_cache
from typing import Any, Literal, Union


@lru_cache(maxsize=None)
def fields_of(cls: type) -> tuple[tuple[dataclasses.Field, Any], ...]:
    """(field, resolved type) for every field of a model dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    return tuple((fld, hints[fld.name]) for fld in dataclasses.fields(cls))


def has_default(fld: dataclasses.Field) -> bool:
    return fld.default is not dataclasses.MISSING or fld.default_factory is not dataclasses.MISSING


def default_of(fld: dataclasses.Field) -> Any:
    if fld.default is not dataclasses.MISSING:
        return fld.default
    return fld.default_factory()


def is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def union_members(tp: Any) -> tuple[list[Any], bool]:
    """The members of a Union without None, and whether None was one of them."""
    args = typing.get_args(tp)
    return [a for a in args if a is not type(None)], type(None) in args


def is_model(tp: Any) -> bool:
    """A model class (parsed key by key), as opposed to a scalar value class (parsed from one value)."""
    return isinstance(tp, type) and dataclasses.is_dataclass(tp) and not hasattr(tp, "parse")


def is_scalar_class(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "parse") and hasattr(tp, "json_schema")


def literal_values(tp: Any) -> tuple | None:
    return typing.get_args(tp) if typing.get_origin(tp) is Literal else None


@lru_cache(maxsize=None)
def tag_of(cls: type) -> str | None:
    """The `type:` value that selects this class inside a tagged union, if it has one."""
    for fld, tp in fields_of(cls):
        if fld.name == "type":
            values = literal_values(tp)
            if values and len(values) == 1 and not has_default(fld):
                return values[0]
    return None


def tagged_members(tp: Any) -> dict[str, type] | None:
    """For a Union of model classes each with a fixed `type`, the mapping tag -> class."""
    if not is_union(tp):
        return None
    members, _ = union_members(tp)
    if len(members) < 2 or not all(is_model(m) and tag_of(m) for m in members):
        return None
    return {tag_of(m): m for m in members}
