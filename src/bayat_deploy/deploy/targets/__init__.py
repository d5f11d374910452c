"""Targets: where deployments land. All of them speak the verbs of `base.Target`.

REGISTRY maps each `target.type` of the policy model to the factory of its target, imported only when an
environment uses it (each pulls in its own SDKs). A kind the model knows and the registry does not is an
error, never another target's behaviour (tests/deploy/test_targets_registry.py keeps the two in step).
"""

from __future__ import annotations

from bayat_deploy.deploy.targets.base import Target
from bayat_deploy.errors import BayatError

# target.type -> "module:factory"; a factory takes (session, environment) and returns a Target
REGISTRY = {
    "docker-host": "bayat_deploy.deploy.targets.docker_host:DockerHostTarget",
    "kubernetes": "bayat_deploy.deploy.targets.kubernetes:kubernetes_target",
    "serverless": "bayat_deploy.deploy.targets.serverless:ServerlessTarget",
    "terraform": "bayat_deploy.deploy.targets.terraform:TerraformTarget",
}


def target_for(session, environment: str) -> Target:
    """The target of an environment, as the policy describes it."""
    import importlib

    kind = session.policy.environment(environment).target.type
    where = REGISTRY.get(kind)
    if where is None:
        raise BayatError(f"environments.{environment}.target.type {kind!r} has no registered target "
                         f"(deploy/targets/__init__.py REGISTRY knows {', '.join(sorted(REGISTRY))})")
    module, factory = where.split(":")
    return getattr(importlib.import_module(module), factory)(session, environment)


__all__ = ["REGISTRY", "Target", "target_for"]
