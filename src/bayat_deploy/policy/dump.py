"""The effective policy as plain data (for `policy show` and for hashing a deployment's configuration)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any


def to_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if hasattr(value, "dump"):
            return value.dump()
        return {fld.name: to_plain(getattr(value, fld.name)) for fld in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    return value


def to_json(value: Any) -> str:
    return json.dumps(to_plain(value), indent=2, default=str) + "\n"


def to_yaml(value: Any) -> str:
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    _Dumper.add_representer(type(None), lambda d, _: d.represent_scalar("tag:yaml.org,2002:null", "null"))
    return yaml.dump(to_plain(value), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)


def fingerprint(value: Any) -> str:
    """A stable sha256 of the plain form: the "with which configuration" of a deployment record."""
    text = json.dumps(to_plain(value), sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
