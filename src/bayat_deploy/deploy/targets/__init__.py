"""Targets: where deployments land. All of them speak the verbs of `base.Target`."""

from __future__ import annotations

from bayat_deploy.deploy.targets.base import Target


def target_for(session, environment: str) -> Target:
    """The target of an environment, as the policy describes it."""
    env = session.policy.environment(environment)
    kind = env.target.type
    if kind == "docker-host":
        from bayat_deploy.deploy.targets.docker_host import DockerHostTarget

        return DockerHostTarget(session, environment)
    if kind == "kubernetes":
        from bayat_deploy.deploy.targets.kubernetes import kubernetes_target

        return kubernetes_target(session, environment)
    if kind == "serverless":
        from bayat_deploy.deploy.targets.serverless import ServerlessTarget

        return ServerlessTarget(session, environment)
    from bayat_deploy.deploy.targets.terraform import TerraformTarget

    return TerraformTarget(session, environment)


__all__ = ["Target", "target_for"]
