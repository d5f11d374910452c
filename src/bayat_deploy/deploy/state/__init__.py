"""Deployment state stores: where the record, the lock and the targets' memory live."""

from __future__ import annotations

from bayat_deploy.deploy.state.base import DeploymentLocked, Store, StoreError


def open_store(session, environment: str, runner=None) -> Store:
    """The store the policy gives the environment: the cluster for a Kubernetes target (unless
    `target.state: local`), otherwise the state directory on the machine (the Docker host's
    self-hosted runner, or a laptop)."""
    from bayat_deploy.deploy.targets.base import state_dir

    policy = session.policy
    target = policy.environment(environment).target
    if target.type == "kubernetes" and target.state == "cluster":
        from bayat_deploy.deploy.state.kubernetes import KubernetesStore
        from bayat_deploy.deploy.access import target_env
        from bayat_deploy.deploy.targets.commands import CommandRunner

        return KubernetesStore(namespace=policy.substitute(target.namespace, environment),
                               name=f"bayat-deploy-{environment}", context=target.context,
                               runner=runner or CommandRunner(env=target_env(session, environment), timeout=60),
                               labels={"app.kubernetes.io/part-of": policy.project,
                                       "bayat.io/environment": environment})
    from bayat_deploy.deploy.state.directory import DirectoryStore

    return DirectoryStore(state_dir(session, environment))


__all__ = ["DeploymentLocked", "Store", "StoreError", "open_store"]
