"""What a chart's rendered manifests must hold for the Kubernetes target to deploy them.

The traffic switch patches the stable Service's selector to one `track` label (stable, canary,
previous), so every pod template must carry the `track` label the chart is given (`.Values.track`):
a chart without it - most third-party charts - would leave the Service selecting no pod at all.
The namespace enforces the `restricted` Pod Security Standard, so pods that break it are rejected by
the API server after Helm has already started the release; both are found here, before anything
changes, with the fix in words.
"""

from __future__ import annotations

from dataclasses import dataclass

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Rollout")
SECCOMP_TYPES = ("RuntimeDefault", "Localhost")


@dataclass(frozen=True)
class Breach:
    workload: str  # Kind/name
    problem: str

    def __str__(self) -> str:
        return f"{self.workload}: {self.problem}"


def check(manifest: str, track_label: str) -> list[Breach]:
    """Every way the rendered `manifest` breaks the contract; empty when it can be deployed."""
    import yaml

    try:
        documents = [d for d in yaml.safe_load_all(manifest) if isinstance(d, dict)]
    except yaml.YAMLError as exc:
        return [Breach("chart", f"the rendered manifests are not YAML: {exc}")]
    workloads = [d for d in documents if d.get("kind") in WORKLOADS]
    if not workloads:
        return [Breach("chart", "renders no Deployment, StatefulSet, DaemonSet or Rollout: nothing would run")]
    breaches: list[Breach] = []
    for workload in workloads:
        name = f"{workload['kind']}/{(workload.get('metadata') or {}).get('name', '?')}"
        template = (workload.get("spec") or {}).get("template") or {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        if labels.get("track") != track_label:
            breaches.append(Breach(name, f"its pods carry no `track: {track_label}` label (they have "
                                         f"{_labels(labels)}); the traffic switch selects pods by it, so the Service "
                                         "would route to no pod. Add `track: {{ .Values.track }}` to the pod "
                                         "template's labels (spec.template.metadata.labels)"))
        breaches += [Breach(name, problem) for problem in restricted_problems(template.get("spec") or {})]
    return breaches


def restricted_problems(pod: dict) -> list[str]:
    """Where a pod spec breaks the `restricted` Pod Security Standard (the checks its admission applies)."""
    problems = []
    context = pod.get("securityContext") or {}
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(f"{flag}: true is not allowed")
    for volume in pod.get("volumes") or []:
        if "hostPath" in volume:
            problems.append(f"volume {volume.get('name', '?')} is a hostPath")
    containers = [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]
    for container in containers:
        own = container.get("securityContext") or {}
        where = f"container {container.get('name', '?')}"
        if not (own.get("runAsNonRoot", context.get("runAsNonRoot")) is True):
            problems.append(f"{where}: runAsNonRoot must be true (securityContext.runAsNonRoot, pod or container)")
        seccomp = (own.get("seccompProfile") or context.get("seccompProfile") or {}).get("type")
        if seccomp not in SECCOMP_TYPES:
            problems.append(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost")
        if own.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: securityContext.allowPrivilegeEscalation must be false")
        if "ALL" not in ((own.get("capabilities") or {}).get("drop") or []):
            problems.append(f"{where}: securityContext.capabilities.drop must include ALL")
        if own.get("privileged"):
            problems.append(f"{where}: privileged containers are not allowed")
    return problems


def _labels(labels: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"
