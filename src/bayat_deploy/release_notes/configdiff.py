"""Configuration changes section: keys added, removed or changed in the configuration files and in the
policy file between two revisions. Values of secret keys are never shown, only that they changed.

A key is secret when the policy's `config.keys` marks it `secret: true`, or when its name says so
(password, secret, token, api key, private key, credential...). Nested keys are dotted (`db.host`).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

_SECRET_NAME = re.compile(r"(pass(word|wd|phrase)?|secret|token|api[-_]?key|private[-_]?key|credentials?|"
                          r"auth|cookie|session[-_]?key|signing[-_]?key|dsn)$", re.IGNORECASE)
HIDDEN = "(secret: not shown)"


@dataclass(frozen=True)
class ConfigChange:
    file: str
    change: str  # added | removed | changed
    key: str
    before: Any = None
    after: Any = None
    secret: bool = False
    environments: tuple[str, ...] = ()  # where this file applies; empty for the policy file

    def to_json(self) -> dict:
        data = asdict(self)
        data["environments"] = list(self.environments)
        if self.secret:
            data["before"] = data["after"] = None
        return data

    def shown(self, value: Any) -> str:
        if self.secret:
            return HIDDEN
        return json.dumps(value) if not isinstance(value, str) else value


def is_secret_key(key: str, secret_keys: frozenset[str] = frozenset()) -> bool:
    last = key.rsplit(".", 1)[-1]
    return key in secret_keys or last in secret_keys or bool(_SECRET_NAME.search(last))


def parse_config(path: str, text: str) -> dict[str, Any]:
    """The file as a mapping, by its extension: YAML/JSON, TOML, or `KEY=value` lines (.env, .properties)."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in (".yml", ".yaml", ".json"):
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid YAML/JSON: {str(exc).splitlines()[0]}") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ValueError("the top level is not a mapping")
        return data
    if suffix == ".toml":
        try:
            import tomllib
        except ImportError:  # Python 3.10
            raise ValueError("reading TOML needs Python 3.11 or later") from None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"not valid TOML: {exc}") from None
    pairs = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";")) and ("=" in line or ":" in line):
            key, _, value = line.removeprefix("export ").partition("=" if "=" in line else ":")
            pairs[key.strip()] = value.strip().strip("'\"")
    return pairs


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


def diff_config(file: str, before: dict[str, Any], after: dict[str, Any], *, environments: tuple[str, ...] = (),
                secret_keys: frozenset[str] = frozenset()) -> list[ConfigChange]:
    old, new = flatten(before), flatten(after)

    def change(kind: str, key: str, a: Any = None, b: Any = None) -> ConfigChange:
        return ConfigChange(file, kind, key, a, b, is_secret_key(key, secret_keys), environments)

    return ([change("added", k, b=new[k]) for k in sorted(new.keys() - old.keys())]
            + [change("removed", k, a=old[k]) for k in sorted(old.keys() - new.keys())]
            + [change("changed", k, old[k], new[k]) for k in sorted(old.keys() & new.keys()) if old[k] != new[k]])


@dataclass
class ConfigReport:
    changes: list[ConfigChange] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # files present at either revision
    problems: list[str] = field(default_factory=list)


def configuration_changes(revisions, since: str | None, until: str, files: dict[str, tuple[str, ...]],
                          secret_keys: frozenset[str] = frozenset()) -> ConfigReport:
    """Diff each file (path -> environments it applies to) between `since` (None: nothing) and `until`."""
    report = ConfigReport()
    for path, environments in files.items():
        texts = [revisions.read(rev, path) if rev else None for rev in (since, until)]
        if texts == [None, None]:
            continue
        report.files.append(path)
        try:
            sides = [parse_config(path, text) if text is not None else {} for text in texts]
        except ValueError as exc:
            report.problems.append(f"{path}: {exc}")
            continue
        report.changes += diff_config(path, *sides, environments=environments, secret_keys=secret_keys)
    return report
