"""The effective configuration of one environment: every layer read, lowest first, and for each key
the value that wins and the layer it came from.

Lowest first (standard: Configuration Sources): defaults in code (`config.keys.*.default`) ->
configuration files (`config.files`, later files win) -> environment variables (`config.env_prefix`)
-> the configuration service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bayat_deploy.configuration.sources import (Setting, SourceError, from_environment, from_service,
                                                read_file)
from bayat_deploy.configuration.values import looks_secret, normal_name
from bayat_deploy.context import RunContext
from bayat_deploy.errors import BadInput
from bayat_deploy.policy.model import Policy
from bayat_deploy.policy.model.stages import ConfigKey


@dataclass
class Entry:
    """One key: its rules (when declared) and its value in every layer that sets it, lowest first."""

    name: str
    spec: ConfigKey | None
    layers: list[Setting] = field(default_factory=list)

    @property
    def setting(self) -> Setting | None:
        return self.layers[-1] if self.layers else None

    @property
    def value(self):
        return self.setting.value if self.setting else None

    @property
    def declared_secret(self) -> bool:
        return self.spec is not None and self.spec.secret

    @property
    def secret(self) -> bool:
        """Declared secret, or named like one (a declared key of a non-text type is taken at its word)."""
        if self.declared_secret:
            return True
        if self.spec is not None and self.spec.type != "string":
            return False
        return looks_secret(self.name)


@dataclass
class Resolution:
    environment: str
    entries: dict[str, Entry]  # by normal name, in the order keys were first seen
    files_read: list[str] = field(default_factory=list)
    files_missing: list[str] = field(default_factory=list)
    service: str | None = None
    errors: list[SourceError] = field(default_factory=list)

    def entry(self, name: str) -> Entry | None:
        return self.entries.get(normal_name(name))

    @property
    def settings(self) -> list[Setting]:
        return [s for entry in self.entries.values() for s in entry.layers]


def resolve(policy: Policy, environment: str, context: RunContext, root: Path) -> Resolution:
    from bayat_deploy import secrets

    config = policy.config
    entries = {normal_name(name): Entry(name, spec) for name, spec in config.keys.items()}
    resolution = Resolution(environment, entries)

    def add(setting: Setting) -> None:
        normal = normal_name(setting.key)
        entry = entries.get(normal)
        if entry is None:
            entry = entries[normal] = Entry(setting.key, None)
        entry.layers.append(setting)

    for name, spec in config.keys.items():
        if spec.default is not None:
            add(Setting(name, spec.default, "default", f"config.keys.{name}.default"))
    settings, read, missing, errors = read_files(policy, environment, root)
    resolution.files_read, resolution.files_missing = read, missing
    resolution.errors.extend(errors)
    for setting in settings:
        add(setting)
    declared = {normal_name(name): name for name in config.keys}
    for setting in from_environment(context.env, config.env_prefix, declared):
        add(setting)
    if config.service is not None:
        service = config.service
        resolution.service = f"{str(service.url).rstrip('/')}/{environment}"
        try:
            token = secrets.resolve(service.token, context, what="config.service.token")
        except BadInput as exc:
            resolution.errors.append(SourceError(resolution.service, str(exc)))
            return resolution
        if service.token is not None and token is None:
            resolution.errors.append(SourceError(resolution.service, f"config.service.token: {service.token} is "
                                                 f"not set, so the configuration service cannot be asked"))
        else:
            settings, errors = from_service(str(service.url), environment, token, service.timeout.seconds)
            resolution.errors.extend(errors)
            for setting in settings:
                add(setting)
    return resolution


def read_files(policy: Policy, environment: str, root: Path, *, specific_only: bool = False
               ) -> tuple[list[Setting], list[str], list[str], list[SourceError]]:
    """The configuration files of an environment, in order. With `specific_only`, only the files whose
    name depends on the environment (`config/{environment}.yml`), not the ones all environments share."""
    settings: list[Setting] = []
    read, missing, errors = [], [], []
    for template in policy.config.files:
        if specific_only and "{environment}" not in template:
            continue
        display = policy.substitute(template, environment)
        path = root / display
        if not path.is_file():
            missing.append(display)
            continue
        found, problems = read_file(path, display, policy.config.env_prefix)
        read.append(display)
        settings.extend(found)
        errors.extend(problems)
    return settings, read, missing, errors
