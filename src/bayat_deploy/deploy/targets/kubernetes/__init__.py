"""The Kubernetes target (standard: Environment-Specific Guidelines > Kubernetes).

Three ways to land a release, chosen from the environment's `target`:

- helm mode (`helm.KubernetesTarget`): Helm releases per track in a namespace per environment,
  traffic moved by a Service selector patch (blue/green) or an NGINX canary Ingress (weights);
- helm mode with `argo_rollouts: true` and a canary strategy (`argo.ArgoRolloutsTarget`): the chart's
  Deployment becomes the template of an Argo Rollouts Rollout whose steps come from the policy;
- GitOps mode (`target.gitops`, `gitops.GitOpsTarget`): deployments are commits to the environment's
  config repository, which Argo CD or Flux syncs; rollback is a revert commit.

No command here reaches a cluster directly: helm, kubectl and the Argo CD API are called through the
command runner (`targets/commands.py`) and a small HTTP client, so every verb can be checked offline.
"""

from __future__ import annotations

from bayat_deploy.deploy.targets.base import Target


def kubernetes_target(session, environment: str, runner=None) -> Target:
    """The target of a Kubernetes environment: GitOps when `target.gitops` is set, otherwise helm."""
    spec = session.policy.environment(environment).target
    if spec.gitops is not None:
        from bayat_deploy.deploy.targets.kubernetes.gitops import GitOpsTarget

        return GitOpsTarget(session, environment, runner=runner)
    if spec.argo_rollouts and session.policy.environment(environment).strategy.type == "canary":
        from bayat_deploy.deploy.targets.kubernetes.argo import ArgoRolloutsTarget

        return ArgoRolloutsTarget(session, environment, runner=runner)
    from bayat_deploy.deploy.targets.kubernetes.helm import KubernetesTarget

    return KubernetesTarget(session, environment, runner=runner)


__all__ = ["kubernetes_target"]
