"""The JSON Schema of `.bayat/deploy.yml`, generated from the model (so it cannot drift from the validator).

Every key is optional except `project`: the standard fills in the rest. Editors use the schema through
`# yaml-language-server: $schema=...`; `bayat-deploy policy schema` prints it and CI checks the
committed copy in `schema/` is current.
"""

from __future__ import annotations

import typing
from typing import Any

from bayat_deploy.policy import introspect as it
from bayat_deploy.policy import yamlpos
from bayat_deploy.policy.model import Environment, Policy

SCHEMA_ID = "https://raw.githubusercontent.com/bayat/deploy-action/v1/schema/deploy.schema.json"


# `defaults:` is an Environment read before each environment's own settings, not a field of the model.
DEFAULTS_DOC = "Settings applied to every environment before the environment's own."


def policy_schema() -> dict:
    defs: dict[str, dict] = {}
    root = _model(Policy, defs)
    root["required"] = ["project"]
    root["description"] = f"{root['description']} {yamlpos.LIMITS}"
    root["properties"]["defaults"] = {
        "$ref": "#/$defs/Environment",
        "description": DEFAULTS_DOC,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Bayat deployment policy (.bayat/deploy.yml)",
        **root,
        "$defs": dict(sorted(defs.items())),
    }


def _type(tp: Any, defs: dict, meta: dict | None = None) -> dict:
    meta = meta or {}
    if tp is Any:
        return {}
    if it.is_union(tp):
        members, optional = it.union_members(tp)
        tagged = it.tagged_members(tp)
        options = [_type(m, defs, meta) for m in members]
        schema: dict = options[0] if len(options) == 1 else {"anyOf": options}
        if tagged:
            # Not oneOf/required: an environment may tweak the inherited strategy without repeating `type`.
            schema = {"anyOf": options}
        if optional:
            schema = {"anyOf": [schema, {"type": "null"}]}
        return schema
    if it.is_model(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            defs[name] = _model(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    values = it.literal_values(tp)
    if values is not None:
        return {"enum": list(values)}
    if it.is_scalar_class(tp):
        return tp.json_schema()
    origin = typing.get_origin(tp)
    if origin is tuple:
        schema = {"type": "array", "items": _type(typing.get_args(tp)[0], defs, _item_meta(meta))}
        if meta.get("min_items"):
            schema["minItems"] = meta["min_items"]
        if meta.get("unique"):
            schema["uniqueItems"] = True
        return schema
    if origin is dict:
        return {"type": "object", "additionalProperties": _type(typing.get_args(tp)[1], defs, _item_meta(meta))}
    simple = {str: "string", bool: "boolean", int: "integer", float: "number"}[tp]
    schema = {"type": simple}
    for key, json_key in (("minimum", "minimum"), ("maximum", "maximum"), ("pattern", "pattern")):
        if meta.get(key) is not None and (key != "pattern" or tp is str):
            schema[json_key] = meta[key]
    return schema


def _item_meta(meta: dict) -> dict:
    from bayat_deploy.policy.convert import ITEM_CONSTRAINTS

    return {key: meta[key] for key in ITEM_CONSTRAINTS if key in meta}


def _model(cls: type, defs: dict) -> dict:
    properties = {}
    required = []
    tag = it.tag_of(cls)
    for fld, tp in it.fields_of(cls):
        meta = dict(fld.metadata)
        if fld.name == "type" and tag:
            prop = {"const": tag}
        else:
            prop = _type(tp, defs, meta)
            if not it.has_default(fld) and cls is not Environment:
                required.append(fld.name)
        doc = meta.get("doc")
        if doc:
            prop = {**prop, "description": doc} if "$ref" not in prop else {"allOf": [prop], "description": doc}
        if meta.get("examples"):
            prop["examples"] = meta["examples"]
        properties[fld.name] = prop
    schema = {"type": "object", "description": (cls.__doc__ or "").strip(), "properties": properties,
              "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema
