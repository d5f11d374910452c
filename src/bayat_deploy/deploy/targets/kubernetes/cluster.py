"""Reading an environment's tracks and traffic split from what `helm list -o json` and
`kubectl get deployments,services,ingresses -o json` print.

Who gets traffic: the stable release's Service selects one `track` label (a switch is a patch of that
selector); a weighted split adds the NGINX canary Ingress `<release>-canary` with its `canary-weight`
annotation; a Service without a `track` selector spreads requests by ready pods.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from bayat_deploy.deploy.targets.base import Instance, Release, State, Track
from bayat_deploy.deploy.targets.kubernetes.tracks import TrackBook, matches
from bayat_deploy.deploy.targets.kubernetes.values import TRACK_LABELS, Names
from bayat_deploy.errors import BayatError

CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight"
LABEL_TO_TRACK = {label: track for track, label in TRACK_LABELS.items()}


@dataclass
class ClusterView:
    releases: dict[str, dict] = field(default_factory=dict)  # helm release name -> `helm list` entry
    deployments: dict[str, dict] = field(default_factory=dict)
    services: dict[str, dict] = field(default_factory=dict)
    ingresses: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def parse(cls, helm_list: str, objects: str) -> "ClusterView":
        try:
            releases = json.loads(helm_list or "[]") or []
            items = (json.loads(objects or "{}") or {}).get("items", [])
        except json.JSONDecodeError as exc:
            raise BayatError(f"cannot read the cluster's answer as JSON: {exc}") from None
        view = cls(releases={r["name"]: r for r in releases})
        kinds = {"Deployment": view.deployments, "Service": view.services, "Ingress": view.ingresses}
        for item in items:
            if item.get("kind") in kinds:
                kinds[item["kind"]][item["metadata"]["name"]] = item
        return view

    def revision(self, name: str) -> int | None:
        entry = self.releases.get(name)
        return int(entry["revision"]) if entry and str(entry.get("revision", "")).isdigit() else None

    def selector_label(self, service: str) -> str | None:
        """The `track` label the Service selects: "" when it selects every track, None without a Service."""
        if service not in self.services:
            return None
        return (self.services[service].get("spec", {}).get("selector") or {}).get("track", "")

    def selector_track(self, service: str) -> str | None:
        """The track the Service sends traffic to; None when it selects every track (or does not exist)."""
        label = self.selector_label(service)
        return LABEL_TO_TRACK.get(label, label) if label else None

    def canary_weight(self, ingress: str) -> int:
        annotations = (self.ingresses.get(ingress) or {}).get("metadata", {}).get("annotations") or {}
        try:
            return int(annotations.get(CANARY_WEIGHT, "0"))
        except ValueError:
            return 0


def replicas_of(deployment: dict) -> int:
    return int((deployment.get("spec") or {}).get("replicas") or 0)


def build_state(environment: str, names: Names, view: ClusterView, book: TrackBook, address) -> State:
    """The tracks the cluster runs. A stable release without pods is a track only when it once served
    (a rolling update stopped all its pods: a restore starts them again); before the first promotion it
    only holds the Service and Ingress."""
    state = State(environment)
    remembered = book.load()
    for track in ("stable", "candidate", "warm"):
        name = names.of(track)
        if name not in view.releases:
            continue
        deployment = view.deployments.get(name) or {}
        replicas = replicas_of(deployment)
        labels = (deployment.get("metadata") or {}).get("labels") or {}
        version_label = labels.get("app.kubernetes.io/version", "")
        known = book.release(track)
        if track == "stable" and replicas == 0 and not matches(known, version_label):
            continue
        if matches(known, version_label):
            release = known
        else:
            containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
            release = Release(version=version_label or "unknown", image=containers[0].get("image", ""))
        instances = [Instance(f"{name}/{i}", address(name), release.version) for i in range(replicas)]
        state.tracks[track] = Track(track, release, instances, 0,
                                    remembered.get(track, {}).get("retire_after", ""))
    apply_weights(state, view, names)
    return state


def apply_weights(state: State, view: ClusterView, names: Names) -> None:
    selected = view.selector_track(names.release)
    if names.release not in view.services:
        return
    if selected is None:  # every track's pods behind one Service: shares follow the pod counts
        total = sum(len(t.instances) for t in state.tracks.values())
        for track in state.tracks.values():
            track.weight = round(100 * len(track.instances) / total) if total else 0
        return
    if selected not in state.tracks:
        return
    share = view.canary_weight(names.of("candidate")) if selected == "stable" else 0
    if share and "candidate" in state.tracks:
        state.tracks["candidate"].weight = share
        state.tracks[selected].weight = 100 - share
    else:
        state.tracks[selected].weight = 100
