"""Registry credentials: resolved from the policy's secret references, never anonymous for uploads."""

from __future__ import annotations

from dataclasses import dataclass

from bayat_deploy.context import RunContext
from bayat_deploy.errors import BadInput, StageFailed
from bayat_deploy.policy.model.stages import Registry


class MissingCredentials(StageFailed):
    """Raised when a registry's user name or password cannot be resolved; nothing is pushed anonymously."""


@dataclass(frozen=True)
class Credentials:
    username: str | None
    password: str

    def __repr__(self) -> str:  # never let the password reach a log through repr()
        return f"Credentials(username={self.username!r}, password=***)"


def registry_of(policy, name: str) -> Registry:
    try:
        return policy.registries[name]
    except KeyError:
        known = ", ".join(policy.registries) or "none"
        raise BadInput(f"registry {name!r} is not defined under `registries:` in the policy "
                       f"(defined: {known})") from None


def require_credentials(name: str, registry: Registry, context: RunContext, *, need_username: bool = True
                        ) -> Credentials:
    """The registry's credentials, or MissingCredentials naming what to set."""
    from bayat_deploy.secrets import resolve

    username = resolve(registry.username, context, what=f"registries.{name}.username")
    password = resolve(registry.password, context, what=f"registries.{name}.password")
    unset_vars: list[str] = []
    problems: list[str] = []
    for field, ref, value, needed in (("username", registry.username, username, need_username),
                                      ("password", registry.password, password, True)):
        if not needed or value:
            continue
        if ref is None:
            problems.append(f"the policy gives no `registries.{name}.{field}` "
                            f"(e.g. {field}: env:REGISTRY_{field.upper()})")
        elif ref.scheme == "env":
            unset_vars.append(ref.target)
        else:
            problems.append(f"registries.{name}.{field} ({ref}) resolves to nothing")
    if unset_vars:
        problems.insert(0, f"set {' and '.join(unset_vars)} (read through registries.{name}.username/password)")
    if problems:
        raise MissingCredentials(
            f"registry {name!r} ({registry.url}) requires authentication but its credentials are missing: "
            + "; ".join(problems) + ". Refusing to push anonymously.")
    return Credentials(username or None, password)


def read_credentials(name: str, registry: Registry, context: RunContext) -> Credentials | None:
    """Credentials for reading, when they resolve; reading may work anonymously."""
    try:
        return require_credentials(name, registry, context)
    except MissingCredentials:
        return None
