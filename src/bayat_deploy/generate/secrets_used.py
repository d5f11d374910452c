"""Which CI secrets each kind of job needs: the `env:NAME` references the policy makes, by purpose."""

from __future__ import annotations

from bayat_deploy.policy.model import Policy
from bayat_deploy.policy.types import SecretRef


def _env_names(*refs: object) -> list[str]:
    return [ref.target for ref in refs if isinstance(ref, SecretRef) and ref.scheme == "env"]


def registry_secrets(policy: Policy) -> list[str]:
    """Credentials of the registries the policy's artifacts are published to (and pulled from)."""
    used = {artifact.registry for artifact in policy.artifacts}
    names = []
    for name, registry in policy.registries.items():
        if name in used:
            names += _env_names(registry.username, registry.password, registry.signing.passphrase)
    return sorted(set(names))


def notification_secrets(policy: Policy) -> list[str]:
    names = []
    for route in policy.notifications.routes:
        names += _env_names(route.url)
        if route.smtp is not None:
            names += _env_names(route.smtp.username, route.smtp.password)
    if policy.monitoring is not None:
        names += _env_names(policy.monitoring.token)
    if policy.feature_flags.store.token is not None:
        names += _env_names(policy.feature_flags.store.token)
    return sorted(set(names))


def app_secrets(environment) -> list[str]:
    """The CI secrets an environment's application instances get: `target.env` values written `env:NAME`."""
    from bayat_deploy.policy.types import secret_reference

    values = getattr(environment.target, "env", None) or {}
    return sorted({ref.target for ref in map(secret_reference, values.values()) if ref and ref.scheme == "env"})
