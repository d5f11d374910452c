"""The Kubernetes objects bayat-deploy generates beside the chart, rendered from the templates in
`deploy/targets/templates/kubernetes/`: the environment's namespace with its quota, limit
range and default-deny NetworkPolicy; the NGINX canary Ingress; the Argo Rollouts Rollout and its
AnalysisTemplate; the Argo CD Application and the Flux objects of the GitOps mode.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bayat_deploy.errors import BadInput

TEMPLATES = "kubernetes"
DEFAULT_INGRESS_NAMESPACE = "ingress-nginx"


def render(template: str, **context: object) -> str:
    from bayat_deploy.deploy.targets.templates import render as jinja

    return jinja(f"{TEMPLATES}/{template}", **context)


def labels(project: str, environment: str, **extra: str) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": project, "app.kubernetes.io/managed-by": "bayat-deploy",
            "bayat.io/environment": environment, **extra}


# ---------------------------------------------------------------------------- quantities
_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def cpu_cores(quantity: object) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def memory_bytes(quantity: object) -> float:
    text = str(quantity)
    for suffix, factor in _UNITS.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text.rstrip("m"))


# ---------------------------------------------------------------------------- namespace
@dataclass
class Peak:
    pods: int
    reason: str


def peak_pods(env) -> Peak:
    """The most pods one deployment runs at once: stable (up to its autoscaling maximum), the
    candidate beside it, and the previous version kept warm when the strategy keeps it."""
    resources, strategy = env.resources, env.strategy
    stable = max(resources.replicas, resources.max_replicas if resources.autoscaling else 0)
    parts = [f"{stable} stable", f"{resources.replicas} candidate"]
    pods = stable + resources.replicas
    keep = getattr(strategy, "decommission_after", None)
    if keep is not None and keep.seconds > 0:
        pods += resources.replicas
        parts.append(f"{resources.replicas} kept warm")
    return Peak(pods, " + ".join(parts) + f" during a {strategy.type} deployment")


def check_quota(env, quota, where: str) -> Peak:
    """BadInput when the namespace quota cannot hold a deployment's peak: better now than mid-switch."""
    peak = peak_pods(env)
    resources = env.resources
    if quota.pods < peak.pods:
        raise BadInput(f"{where}.quota.pods is {quota.pods}, but {peak.reason} needs {peak.pods} pods; "
                       "raise the quota or lower the replicas")
    for what, need, have, show in (
            ("cpu", cpu_cores(resources.cpu) * peak.pods, cpu_cores(quota.cpu), f"{resources.cpu}"),
            ("memory", memory_bytes(resources.memory) * peak.pods, memory_bytes(quota.memory),
             f"{resources.memory}")):
        if have < need:
            raise BadInput(f"{where}.quota.{what} is {getattr(quota, what)}, but {peak.pods} pods requesting "
                           f"{show} each ({peak.reason}) need more; raise the quota")
    return peak


def namespace_manifests(*, project: str, environment: str, namespace: str, env, quota, network_policy: bool,
                        ingress_namespaces: list[str], include_namespace: bool = True) -> str:
    """Namespace, ResourceQuota + LimitRange, and (when asked) the default-deny NetworkPolicy."""
    common = labels(project, environment)
    peak = peak_pods(env)
    documents = [render("namespace.yaml.j2", project=project, environment=environment, namespace=namespace,
                        labels=common)] if include_namespace else []
    documents.append(render("quota.yaml.j2", name=f"{project}-{environment}", namespace=namespace, labels=common,
                            quota=quota, resources=env.resources, peak_pods=peak.pods, peak_reason=peak.reason))
    if network_policy:
        documents.append(render("networkpolicy.yaml.j2", name=f"{project}-default-deny", namespace=namespace,
                                labels=common, ingress_namespaces=ingress_namespaces))
    return "---\n".join(documents)


def ingress_namespaces(values: dict) -> list[str]:
    """Namespaces allowed in: the ingress controller's plus the extras, as the chart's values name them."""
    policy = values.get("networkPolicy") or {}
    first = policy.get("ingressControllerNamespace") or DEFAULT_INGRESS_NAMESPACE
    return [first, *[n for n in policy.get("extraIngressNamespaces") or [] if n != first]]


# ---------------------------------------------------------------------------- traffic
def canary_ingress(*, project: str, environment: str, name: str, namespace: str, values: dict, service: str,
                   weight: int) -> str:
    """The NGINX canary Ingress sending `weight`% of the stable Ingress's requests to `service`."""
    ingress = values.get("ingress") or {}
    hosts = ingress.get("hosts") or []
    if not hosts:
        raise BadInput("a weighted canary through NGINX needs an ingress host: set the environment's url")
    host = hosts[0]["host"]
    path = (hosts[0].get("paths") or [{"path": "/"}])[0]["path"]
    annotations = {k: v for k, v in (ingress.get("annotations") or {}).items() if k == "kubernetes.io/ingress.class"}
    return render("canary-ingress.yaml.j2", release=name.removesuffix("-canary"), name=name, namespace=namespace,
                  labels=labels(project, environment, **{"app.kubernetes.io/instance": name}),
                  annotations=annotations, class_name=ingress.get("className"), host=host, path=path,
                  service=service, port=(values.get("service") or {}).get("port", 80), weight=weight)


# ---------------------------------------------------------------------------- Argo Rollouts
@dataclass
class RolloutPlan:
    """The Rollout's steps, and where bayat-deploy finds the Rollout paused after each of its own verbs."""

    kind: str  # canary | blueGreen
    steps: list[dict] = field(default_factory=list)
    pause_after_weight: dict[int, int] = field(default_factory=dict)  # weight -> index of its pause step
    launch_pause: int = 0

    def pause_for(self, weight: int) -> int:
        if weight not in self.pause_after_weight:
            raise BadInput(f"the Rollout has no step with weight {weight}: its steps come from the policy "
                           f"({sorted(self.pause_after_weight)})")
        return self.pause_after_weight[weight]


def rollout_plan(strategy, first_count: int, analysis: bool) -> RolloutPlan:
    if strategy.type == "blue-green":
        return RolloutPlan("blueGreen")
    if strategy.type != "canary":
        raise BadInput(f"Argo Rollouts runs canary and blue-green deployments, not {strategy.type}")
    plan = RolloutPlan("canary", [{"kind": "scale", "replicas": first_count}, {"kind": "pause"},
                                  {"kind": "match"}])
    plan.launch_pause = 1
    for step in strategy.steps:
        if step.weight >= 100:
            continue  # 100% is the full promotion, not a step
        plan.steps.append({"kind": "weight", "weight": step.weight})
        if analysis:
            plan.steps.append({"kind": "analysis"})
        plan.pause_after_weight[step.weight] = len(plan.steps)
        plan.steps.append({"kind": "pause"})
    return plan


def analysis_metrics(verify, service_url: str, version: str) -> list[dict]:
    """Web metrics from the policy's checks that Argo Rollouts can judge: JSON answers to GET requests.
    The version is written in literally (no Rollouts arguments): the manifests may be rendered by Helm."""
    metrics = []
    if verify.version_path:
        metrics.append({"name": "version", "url": service_url + verify.version_path, "json_path": "{$.version}",
                        "condition": f"result == {_quoted(version)}", "headers": {}})
    for test in verify.smoke_tests:
        if test.method != "GET" or not test.expect.json or any(s // 100 != 2 for s in test.expect.status):
            continue
        for number, (path, wanted) in enumerate(test.expect.json.items(), 1):
            if isinstance(wanted, bool):
                expected = "true" if wanted else "false"
            else:
                expected = str(wanted).replace("{version}", version)
            name = test.name if len(test.expect.json) == 1 else f"{test.name}-{number}"
            metrics.append({"name": re.sub(r"[^a-z0-9-]", "-", name.lower()), "url": service_url + test.path,
                            "json_path": "{$." + path + "}", "condition": f"result == {_quoted(expected)}",
                            "headers": dict(test.headers)})
    return metrics


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def rollout_manifests(*, project: str, environment: str, name: str, namespace: str, env, plan: RolloutPlan,
                      metrics: list[dict], values: dict, candidate_service: str, version: str) -> str:
    """Rollout (+ the candidate's Service, the HPA when autoscaling, the AnalysisTemplate when it has checks)."""
    template = f"{name}-smoke" if metrics else ""
    keep = getattr(env.strategy, "decommission_after", None)
    common = labels(project, environment, **{"app.kubernetes.io/instance": name})
    ingress = values.get("ingress") or {}
    documents = [render(
        "rollout.yaml.j2", kind=plan.kind, name=name, namespace=namespace, labels=common,
        replicas=env.resources.replicas, candidate_service=candidate_service,
        stable_ingress=name if ingress.get("enabled") else "", steps=plan.steps, analysis_template=template,
        scale_down_delay=int(keep.seconds) if keep else 30,
        port=(values.get("service") or {}).get("port", 80),
        autoscaling=env.resources if env.resources.autoscaling else None)]
    if metrics:
        documents.append(render("analysis-template.yaml.j2", name=template, namespace=namespace, labels=common,
                                metrics=metrics, version=version))
    return "---\n".join(documents)


# ---------------------------------------------------------------------------- GitOps
def argocd_application(*, project: str, environment: str, application: str, repository: str, branch: str,
                       path: str, release: str, namespace: str, cluster: str | None) -> str:
    return render("argocd-application.yaml.j2", project=project, environment=environment, application=application,
                  controller_namespace="argocd", labels=labels(project, environment), repository=repository,
                  branch=branch, path=path, release=release, cluster=cluster, namespace=namespace,
                  namespace_labels={**labels(project, environment),
                                    "pod-security.kubernetes.io/enforce": "restricted"})


def flux_manifests(*, project: str, environment: str, application: str, repository: str, branch: str, path: str,
                   release: str, namespace: str, timeout: str) -> dict[str, str]:
    """flux.yaml (GitRepository + HelmRelease) and the kustomization.yaml that lists it."""
    return {
        "flux.yaml": render("flux.yaml.j2", project=project, environment=environment, application=application,
                            source=f"{application}-config", labels=labels(project, environment),
                            repository=repository, branch=branch, path=path, release=release, namespace=namespace,
                            timeout=timeout),
        "kustomization.yaml": render("kustomization.yaml.j2", path=path),
    }


def cluster_url(service: str, namespace: str, port: int) -> str:
    """A Service's in-cluster URL: reachable only from inside the cluster (or through a port-forward)."""
    return f"http://{service}.{namespace}.svc.cluster.local" + ("" if port == 80 else f":{port}")


