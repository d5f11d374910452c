"""What makes a configuration valid: required keys, types and formats, secrets only by reference,
and environment isolation (a non-production environment never reaches production's secrets or endpoints).

Decisions:
* Types and patterns are checked on the value that wins; a lower layer's value that is overridden is
  dormant. Secrets are checked in *every* file and service value: a plaintext secret committed to
  the repository is a leak whether or not something overrides it.
* Keys not declared in `config.keys` are warnings (a typo, or a key to declare), not failures, and
  only when the policy declares keys at all; environment variables with the prefix are not warned
  about (a CI job may carry unrelated ones).
* A secret may arrive as a literal through an environment variable: that is how a pipeline hands a
  resolved secret to a process. Files and the configuration service must hold references.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bayat_deploy.configuration.hierarchy import Resolution, read_files
from bayat_deploy.configuration.sources import Location, Setting
from bayat_deploy.configuration.values import check, is_empty, normal_name, secret_ref
from bayat_deploy.errors import Diagnostic
from bayat_deploy.policy.model import Policy

REFERENCE_FORMS = "env:NAME, vault:path#key, aws-sm:name or file:path"


@dataclass(frozen=True)
class Problem:
    rule: str
    key: str
    message: str
    level: str = "error"
    location: Location | None = None
    source: str | None = None
    security: bool = False

    @classmethod
    def at(cls, setting: Setting | None, rule: str, key: str, message: str, **extra) -> "Problem":
        if setting is None:
            return cls(rule, key, message, **extra)
        return cls(rule, key, message, location=setting.location,
                   source=None if setting.location else setting.source, **extra)

    def format(self) -> str:
        """`FILE:LINE:COL: error: KEY: message`, or `SOURCE: error: KEY: message` without a file."""
        if self.location:
            loc = self.location
            return Diagnostic(loc.file, loc.line, loc.column, self.key, self.message, self.level).format()
        where = f"{self.source}: " if self.source else ""
        return f"{where}{self.level}: {self.key + ': ' if self.key else ''}{self.message}"


def check_sources(resolution: Resolution) -> list[Problem]:
    return [Problem("source", error.key, error.message, location=error.location,
                    source=None if error.location else error.source) for error in resolution.errors]


def check_keys(resolution: Resolution, policy: Policy) -> list[Problem]:
    """Required keys present; the winning value of each declared key fits its type, format and pattern."""
    problems = []
    prefix = policy.config.env_prefix
    declared = {normal_name(name): name for name in policy.config.keys}
    for normal, entry in resolution.entries.items():
        spec, setting = entry.spec, entry.setting
        if spec is None:
            continue
        if is_empty(entry.value):
            if spec.required:
                hint = (f"give it a value in {_file_hint(policy, resolution.environment)}, as {prefix}{normal}"
                        + (" or in the configuration service" if policy.config.service else ""))
                if setting is None:
                    problems.append(Problem("required", entry.name, f"required, but no layer sets it: {hint}",
                                            source=f"config.keys.{entry.name}"))
                else:
                    problems.append(Problem.at(setting, "required", entry.name, f"required, but empty: {hint}"))
            continue
        if secret_ref(entry.value) is not None:
            continue  # a reference: its value is checked where it is resolved, never here
        reason = check(spec, entry.value)
        if reason:
            shown = "the value" if entry.secret else repr(entry.value)
            problems.append(Problem.at(setting, "type", entry.name, f"{shown} {reason}"))
    if declared:
        for setting in resolution.settings:
            entry = resolution.entry(setting.key)
            if setting.layer in ("file", "service") and entry is not None and entry.spec is None:
                close = difflib.get_close_matches(normal_name(setting.key), list(declared), n=1)
                hint = f" (did you mean {declared[close[0]]!r}?)" if close else " (declare it, or remove it)"
                problems.append(Problem.at(setting, "unknown-key", setting.key,
                                           f"not declared in config.keys{hint}", level="warning"))
    return problems


def check_secrets(resolution: Resolution, policy: Policy) -> list[Problem]:
    """Files and the configuration service hold secrets only as references, never as values."""
    problems = []
    prefix = policy.config.env_prefix
    for setting in resolution.settings:
        if setting.layer not in ("file", "service") or is_empty(setting.value) or isinstance(setting.value, bool):
            continue
        entry = resolution.entry(setting.key)
        if entry is None or not entry.secret or secret_ref(setting.value) is not None:
            continue
        where = "a configuration file" if setting.layer == "file" else "the configuration service"
        suggestion = f"env:{prefix}{normal_name(setting.key)}"
        if entry.declared_secret:
            message = (f"a secret (secret: true) must be a reference ({REFERENCE_FORMS}), never a value in {where}; "
                       f"write e.g. {suggestion}")
        else:
            message = (f"named like a secret but holds a plaintext value in {where}; keep it in a secrets manager "
                       f"and write a reference such as {suggestion} (a key that is not secret can be declared in "
                       f"config.keys with its type)")
        problems.append(Problem.at(setting, "plaintext-secret", setting.key, message, security=True))
    return problems


def check_isolation(resolution: Resolution, policy: Policy, root: Path) -> list[Problem]:
    """A non-production environment's effective configuration must never reference a production secret
    (one that production's own, environment-specific files use) or a production endpoint (the host of a
    production-tier environment's URL). A value that is overridden never reaches the environment."""
    environment = resolution.environment
    if policy.environment(environment).tier == "production":
        return []
    production = [name for name, env in policy.environments.items() if env.tier == "production"]
    problems = []
    production_refs: dict[str, tuple[str, Setting]] = {}
    for name in production:
        settings, _, _, _ = read_files(policy, name, root, specific_only=True)
        for setting in settings:
            ref = secret_ref(setting.value)
            if ref is not None:
                production_refs.setdefault(ref.dump(), (name, setting))
    endpoints = [(name, str(policy.environments[name].url)) for name in production if policy.environments[name].url]
    for setting in [entry.setting for entry in resolution.entries.values() if entry.setting is not None]:
        ref = secret_ref(setting.value)
        if ref is not None and ref.dump() in production_refs:
            owner, used = production_refs[ref.dump()]
            problems.append(Problem.at(setting, "production-secret", setting.key,
                                       f"references the production secret {ref.dump()} (used by {owner} at "
                                       f"{used.where}); {environment} must use its own secret (the standard: "
                                       f"different secrets for each environment)", security=True))
        if not isinstance(setting.value, str):
            continue
        for owner, url in endpoints:
            endpoint = _endpoint_pattern(url)
            if endpoint and endpoint[1].search(setting.value):
                problems.append(Problem.at(setting, "production-endpoint", setting.key,
                                           f"points at {owner}'s endpoint {endpoint[0]} ({url}); a "
                                           f"{policy.environment(environment).tier} environment must not reach "
                                           f"production", security=True))
    return problems


def _endpoint_pattern(url: str) -> tuple[str, re.Pattern] | None:
    """host[:port] of a URL and a pattern finding it as a whole host inside a value (not myapi.example.com)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    host = parts.hostname.lower()
    shown = f"{host}:{parts.port}" if parts.port else host
    text = re.escape(f"[{host}]" if ":" in host else host)
    tail = rf":{parts.port}(?!\d)" if parts.port else r"(?![\w-]|\.[\w-])"
    return shown, re.compile(rf"(?<![\w.-]){text}{tail}", re.IGNORECASE)


def _file_hint(policy: Policy, environment: str) -> str:
    files = [policy.substitute(f, environment) for f in policy.config.files]
    return files[-1] if files else "a configuration file"
