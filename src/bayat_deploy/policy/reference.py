"""The policy field reference (docs/policy-reference.md), written from the model: one table per mapping, in the
order a reader meets them, each field with its type, the model's default and its description.

The same field descriptions feed the JSON Schema, so the reference, the schema and the editor's hover text say
the same thing; a test renders it and fails while the committed page is stale or misses a schema property.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

from bayat_deploy.policy import introspect as it
from bayat_deploy.policy.dump import to_plain
from bayat_deploy.policy.model import Environment, Policy
from bayat_deploy.policy.schema import DEFAULTS_DOC


def anchor(cls: type) -> str:
    return cls.__name__.lower()


def models() -> list[type]:
    """Every model class reachable from Policy, breadth first: top-level sections before their details."""
    seen: list[type] = [Policy]
    queue = [Policy]
    while queue:
        for _, tp in it.fields_of(queue.pop(0)):
            for cls in _models_in(tp):
                if cls not in seen:
                    seen.append(cls)
                    queue.append(cls)
    return seen


def _models_in(tp: Any) -> list[type]:
    if it.is_model(tp):
        return [tp]
    if it.is_union(tp):
        return [cls for member in it.union_members(tp)[0] for cls in _models_in(member)]
    origin = typing.get_origin(tp)
    if origin is tuple:
        return _models_in(typing.get_args(tp)[0])
    if origin is dict:
        return _models_in(typing.get_args(tp)[1])
    return []


def describe(tp: Any) -> str:
    """The field's type in words, linking to the table of a mapping."""
    if it.is_union(tp):
        members, optional = it.union_members(tp)
        tagged = it.tagged_members(tp)
        if tagged:
            text = " or ".join(f"[`{tag}`](#{anchor(cls)})" for tag, cls in tagged.items())
            text = f"one of {text} (by `type`)"
        else:
            text = " or ".join(describe(member) for member in members)
        return f"{text}, or null" if optional else text
    if it.is_model(tp):
        return f"[{tp.__name__}](#{anchor(tp)})"
    values = it.literal_values(tp)
    if values is not None:
        return "one of " + ", ".join(f"`{v}`" for v in values)
    origin = typing.get_origin(tp)
    if origin is tuple:
        return f"list of {describe(typing.get_args(tp)[0])}"
    if origin is dict:
        return f"mapping of name to {describe(typing.get_args(tp)[1])}"
    if it.is_scalar_class(tp):
        return f"[{tp.__name__.lower()}](#value-formats)"
    return {str: "string", bool: "boolean", int: "integer", float: "number"}.get(tp, "any value")


def _default(fld: dataclasses.Field, cls: type) -> str:
    if not it.has_default(fld):
        return "*required*" if cls is not Environment else ""
    default = it.default_of(fld)
    if it.is_model(type(default)):
        return "see its table"
    value = to_plain(default)
    if value is None or value in ("", [], {}):
        return ""
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return f"`{text}`" if len(text) <= 40 else "see `policy show`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _scalars() -> list[type]:
    found: dict[str, type] = {}
    for cls in models():
        for _, tp in it.fields_of(cls):
            for scalar in _scalar_classes(tp):
                found.setdefault(scalar.__name__, scalar)
    return [found[name] for name in sorted(found)]


def _scalar_classes(tp: Any) -> list[type]:
    if it.is_scalar_class(tp):
        return [tp]
    if it.is_union(tp):
        return [cls for member in it.union_members(tp)[0] for cls in _scalar_classes(member)]
    if typing.get_origin(tp) is tuple:
        return _scalar_classes(typing.get_args(tp)[0])
    if typing.get_origin(tp) is dict:
        return _scalar_classes(typing.get_args(tp)[1])
    return []


def markdown() -> str:
    out = []
    for cls in models():
        tag = it.tag_of(cls)
        title = f"{cls.__name__} (`type: {tag}`)" if tag else cls.__name__
        if cls is Policy:
            title = "Policy (the file)"
        out += [f'### <a id="{anchor(cls)}"></a>{title}', "", _cell(cls.__doc__ or ""), ""]
        if cls is Environment:
            out += ["Also the shape of `defaults:`, which applies to every environment before its own settings. "
                    "The defaults shown are the model's; the standard sets most environment values per "
                    "environment (`bayat-deploy policy show --env NAME` prints the effective ones).", ""]
        out += ["| field | type | default | description |", "|---|---|---|---|"]
        for fld, tp in it.fields_of(cls):
            if fld.name == "type" and tag:
                kind, default = f"`{tag}`", "*required*"
            else:
                kind, default = describe(tp), _default(fld, cls)
            out.append(f"| `{fld.name}` | {kind} | {default} | {_cell(fld.metadata.get('doc', ''))} |")
        if cls is Policy:
            out.append(f"| `defaults` | {describe(Environment)} |  | {DEFAULTS_DOC} |")
        out.append("")
    out += ["### Value formats", "", "| format | written as |", "|---|---|"]
    out += [f"| {scalar.__name__.lower()} | {_cell(scalar.__doc__ or '')} |" for scalar in _scalars()]
    return "\n".join(out).rstrip() + "\n"
