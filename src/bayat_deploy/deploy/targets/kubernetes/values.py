"""Helm release names per track, and the chart values an environment's policy gives each of them.

Tracks are Helm releases of the same chart: `stable` is `<release>` (it also owns the Service and the
Ingress, i.e. the router), `candidate` is `<release>-canary` (pod label `track: canary`) and `warm`
is `<release>-previous` (`track: previous`). Every release gets `fullnameOverride: <its name>`, so the
Deployment and Service of a track carry exactly the release's name.

Values are layered, later wins: the chart's values.yaml < `target.values_files` < what the policy says
about the environment (resources, autoscaling, ingress host from `url`, readOnlyRootFilesystem) <
`target.values` < the facts of this deployment (image, replicas, track, Service selector).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bayat_deploy.deploy.targets.base import Release
from bayat_deploy.errors import BadInput

TRACK_LABELS = {"stable": "stable", "candidate": "canary", "warm": "previous"}
SUFFIXES = {"stable": "", "candidate": "-canary", "warm": "-previous"}
HELM_NAME_LIMIT = 53  # Helm keeps release names DNS-1123 labels minus room for its own suffixes


@dataclass(frozen=True)
class Names:
    release: str
    namespace: str

    def __post_init__(self):
        longest = self.release + SUFFIXES["warm"]
        if len(longest) > HELM_NAME_LIMIT:
            raise BadInput(f"target.release {self.release!r} is too long: {longest!r} (the warm track's release) "
                           f"must fit Helm's {HELM_NAME_LIMIT} characters")

    def of(self, track: str) -> str:
        return self.release + SUFFIXES[track]

    def track_of(self, helm_release: str) -> str | None:
        for track in ("candidate", "warm", "stable"):
            if helm_release == self.of(track):
                return track
        return None

    def all(self) -> list[str]:
        return [self.of(track) for track in SUFFIXES]


def deep_merge(base: dict, over: dict) -> dict:
    """`over` merged into a copy of `base`: mappings merge key by key, anything else is replaced."""
    merged = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def image_parts(release: Release) -> tuple[str, str]:
    """(repository, tag) of the release's image; a reference without a tag uses the version."""
    name, _, last = release.image.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
        return (f"{name}/{last}" if name else last), tag
    return release.image, release.version.replace("+", "-")


def _substituted(value: Any, substitute) -> Any:
    if isinstance(value, str):
        return substitute(value)
    if isinstance(value, dict):
        return {k: _substituted(v, substitute) for k, v in value.items()}
    if isinstance(value, list):
        return [_substituted(v, substitute) for v in value]
    return value


class ChartValues:
    """The values of each track's Helm release in one environment."""

    def __init__(self, session, environment: str):
        import yaml

        self.session, self.environment = session, environment
        self.env = session.policy.environment(environment)
        self.spec = self.env.target
        substitute = lambda text: session.policy.substitute(text, environment)  # noqa: E731
        self.chart = substitute(self.spec.chart)
        self.chart_dir = session.root / self.chart if (session.root / self.chart).is_dir() else None
        self.layers: list[dict] = []
        for name in self.spec.values_files:
            path = session.root / substitute(name)
            if not path.is_file():
                raise BadInput(f"target.values_files: {path} does not exist")
            try:
                self.layers.append(yaml.safe_load(path.read_text()) or {})
            except yaml.YAMLError as exc:
                raise BadInput(f"target.values_files: {path} is not valid YAML: {exc}") from None
        self.user = _substituted(dict(self.spec.values), substitute)

    # ------------------------------------------------------------------ what the chart itself says
    def chart_defaults(self) -> dict:
        import yaml

        if self.chart_dir is None or not (self.chart_dir / "values.yaml").is_file():
            return {}
        return yaml.safe_load((self.chart_dir / "values.yaml").read_text()) or {}

    def effective(self, values: dict) -> dict:
        """What the chart will render with: its defaults under the given values."""
        return deep_merge(self.chart_defaults(), values)

    # ------------------------------------------------------------------ the policy's view
    @property
    def host(self) -> str | None:
        return urlsplit(str(self.env.url)).hostname if self.env.url else None

    def policy_values(self) -> dict:
        resources = self.env.resources
        values: dict[str, Any] = {
            "resources": {"requests": {"cpu": str(resources.cpu), "memory": str(resources.memory)},
                          "limits": {"cpu": str(resources.cpu_limit), "memory": str(resources.memory_limit)}},
            "autoscaling": {"enabled": resources.autoscaling, "minReplicas": resources.min_replicas,
                            "maxReplicas": resources.max_replicas,
                            "targetCPUUtilizationPercentage": resources.target_cpu},
            # the standard: containers run with a read-only root filesystem
            "securityContext": {"readOnlyRootFilesystem": True},
            "networkPolicy": {"enabled": self.spec.network_policy},
        }
        if self.host:
            parts = urlsplit(str(self.env.url))
            ingress: dict[str, Any] = {"enabled": True, "hosts": [
                {"host": self.host, "paths": [{"path": parts.path or "/", "pathType": "Prefix"}]}]}
            if parts.scheme == "https":
                ingress["tls"] = [{"secretName": f"{self.names_release()}-tls", "hosts": [self.host]}]
            values["ingress"] = ingress
        else:
            values["ingress"] = {"enabled": False}
        return values

    def names_release(self) -> str:
        return self.session.policy.substitute(self.spec.release, self.environment)

    def base(self) -> dict:
        merged: dict = {}
        for layer in self.layers:
            merged = deep_merge(merged, layer)
        merged = deep_merge(merged, self.policy_values())
        return deep_merge(merged, self.user)

    # ------------------------------------------------------------------ one release
    def for_track(self, names: Names, track: str, release: Release, replicas: int, *,
                  selector: str | None = None, rollout_template: bool = False) -> dict:
        """Values of `track`'s release running `release` with `replicas` pods.

        `selector` is the track label the Service of the stable release selects ("" for every track):
        what is live now. Every helm upgrade renders it, so helm never undoes (or, with server-side
        apply, conflicts with) a switch made with `kubectl patch`.
        `rollout_template`: Argo Rollouts owns the pods; the Deployment is only its template.
        """
        repository, tag = image_parts(release)
        image: dict[str, Any] = {"repository": repository, "tag": tag}
        if release.digest:
            image["digest"] = release.digest
        facts: dict[str, Any] = {
            "fullnameOverride": names.of(track),
            "image": image,
            "replicaCount": replicas,
            "track": TRACK_LABELS[track],
        }
        if release.env:
            facts["env"] = dict(release.env)
        values = self.base()
        if track == "stable":
            facts["service"] = {"selectorTrack": TRACK_LABELS["stable"] if selector is None else selector}
            if rollout_template:
                facts["replicaCount"] = 0
                facts["autoscaling"] = {"enabled": False}
            elif replicas != self.env.resources.replicas:
                facts["autoscaling"] = {"enabled": False}  # a partial stable (mid-rolling) is not autoscaled
        else:
            # a second Deployment only: the stable release keeps the router, the quota-wide policies
            facts["service"] = {"selectorTrack": TRACK_LABELS[track]}
            facts["autoscaling"] = {"enabled": False}
            facts["ingress"] = {"enabled": False}
            facts["networkPolicy"] = {"enabled": False}
        return deep_merge(values, facts)


def write_values(path: Path, values: dict, header: str) -> Path:
    import yaml

    from bayat_deploy.fsutil import write_atomic

    write_atomic(path, f"# {header}\n# Written by bayat-deploy; the next deployment rewrites it.\n"
                       + yaml.safe_dump(values, sort_keys=False, default_flow_style=False))
    return path
