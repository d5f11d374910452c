"""The Kubernetes target in helm mode: every track is a Helm release of the same chart, in the
environment's own namespace, and every command goes through the command runner.

- `prepare`: `kubectl apply -f -` of the Namespace, ResourceQuota, LimitRange and default-deny
  NetworkPolicy (after checking the quota can hold the strategy's peak of pods).
- `launch`: `helm upgrade --install <release>[-canary|-previous] <chart> --namespace <ns>
  --create-namespace --atomic --wait --timeout <t> --values <state_dir>/helm/<name>.yaml`.
  (`--atomic` is Helm 3's flag; Helm 4 still accepts it as the alias of `--rollback-on-failure`.)
- Traffic: the stable release's Service selects one `track` label. Moving all traffic to a track is
  one `kubectl patch service <release>` of that selector - atomic, as blue/green needs. A weighted
  canary adds the NGINX canary Ingress `<release>-canary` (`nginx.ingress.kubernetes.io/canary-weight`);
  an environment without an ingress host splits by pod count instead (the selector drops `track`).
  The canary Ingress splits the requests that come through the ingress controller; calls from inside
  the cluster to the Service go to the selected track.
- `promote`: the stable release is upgraded to the promoted version while traffic stays on the
  promoted pods, then the selector moves back to `track: stable` and the other release is uninstalled.
  With `keep_warm_for`, the previous version is started as `<release>-previous` (track `previous`)
  first and kept until `decommission_due` retires it, so a rollback is one selector patch.
- `health`: `kubectl rollout status deployment/<name> --timeout <t>`.
- `direct_url`/`url`: a track's own Service inside the cluster (`http://<name>.<ns>.svc.cluster.local`)
  and the environment's URL. Direct checks therefore need the deployment to run inside the cluster
  (a CI runner pod) or a `kubectl port-forward`; no port-forward is started here.
- `current`: `helm list --output json` and `kubectl get deployments,services,ingresses --output json`,
  read by `cluster.py`; `kubernetes.json` in the state store (a ConfigMap in the cluster) remembers the exact releases.
- `helm rollback` is not how this mode goes back: rolling the stable release back in place would put
  old pods behind live traffic while they roll out. A rollback switches to the warm release, or
  starts the recorded release as a candidate and switches to it (`deploy/rollback.py`). The Argo
  Rollouts mode does use `helm rollback` (`argo.py`): there the release is only the pod template.
- `remove` (rolling back a first release): `helm uninstall` of every track's release.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bayat_deploy.deploy.access import target_env
from bayat_deploy.deploy.targets.base import Health, Instance, Release, State, Target, Track
from bayat_deploy.deploy.targets.commands import CommandRunner
from bayat_deploy.deploy.targets.kubernetes import manifests
from bayat_deploy.deploy.targets.kubernetes.cluster import ClusterView, build_state
from bayat_deploy.deploy.targets.kubernetes.tracks import TrackBook
from bayat_deploy.deploy.targets.kubernetes.values import TRACK_LABELS, ChartValues, Names, write_values
from bayat_deploy.errors import BadInput, BayatError


class KubernetesTarget(Target):
    kind = "kubernetes"
    poll_interval = 2.0  # seconds between status reads while waiting

    def __init__(self, session, environment: str, runner: CommandRunner | None = None):
        super().__init__(session, environment)
        policy = session.policy
        self.project = policy.project
        self.names = Names(policy.substitute(self.spec.release, environment),
                           policy.substitute(self.spec.namespace, environment))
        self.values = ChartValues(session, environment)
        self.runner = runner or CommandRunner(env=target_env(session, environment))

    @property
    def book(self) -> TrackBook:
        return TrackBook(self.store)

    # ------------------------------------------------------------------ commands
    @property
    def chart(self) -> str:
        return str(self.values.chart_dir) if self.values.chart_dir else self.values.chart

    def helm(self, *args: str, options: tuple[str, ...] = ()) -> list[str]:
        """`helm <args> --namespace <ns> <options> [--kube-context <context>]`."""
        context = ["--kube-context", self.spec.context] if self.spec.context else []
        return ["helm", *args, "--namespace", self.names.namespace, *options, *context]

    def kubectl(self, *args: str, options: tuple[str, ...] = (), namespaced: bool = True) -> list[str]:
        """`kubectl <args> --namespace <ns> <options> [--context <context>]`."""
        namespace = ["--namespace", self.names.namespace] if namespaced else []
        context = ["--context", self.spec.context] if self.spec.context else []
        return ["kubectl", *args, *namespace, *options, *context]

    @property
    def timeout(self) -> str:
        return f"{int(self.spec.timeout.seconds)}s"

    def install(self, track: str, release: Release, replicas: int, *, selector: str | None = None,
                rollout_template: bool = False) -> None:
        """`helm upgrade --install` of the track's release with its generated values file."""
        name = self.names.of(track)
        values = self.values.for_track(self.names, track, release, replicas, selector=selector,
                                       rollout_template=rollout_template)
        path = write_values(self.state_dir / "helm" / f"{name}.yaml", values,
                            f"{name}: {release.version} as {track} in {self.environment} ({replicas} pod(s))")
        self.check_chart(name, track, path)
        self.runner.check(self.helm("upgrade", "--install", name, self.chart, options=(
            "--create-namespace", "--atomic", "--wait", "--timeout", self.timeout, "--values", str(path))),
                          what=f"{track} release {name}")

    def check_chart(self, name: str, track: str, values: Path) -> None:
        """Render the release as Helm would install it and refuse a chart the traffic switch or the namespace's
        Pod Security would break (deploy/targets/kubernetes/contract.py), before anything changes."""
        from bayat_deploy.deploy.targets.kubernetes import contract

        rendered = self.runner.check(self.helm("template", name, self.chart, options=("--values", str(values))),
                                     what=f"rendering {name}")
        breaches = contract.check(rendered.stdout, TRACK_LABELS[track])
        if breaches:
            raise BadInput(f"the chart {self.chart} cannot be deployed to {self.environment} as it renders; nothing "
                           "was changed:\n" + "\n".join(f"  - {breach}" for breach in breaches))

    def uninstall(self, track: str) -> None:
        name = self.names.of(track)
        self.runner.check(self.helm("uninstall", name, options=("--wait", "--timeout", self.timeout)),
                          what=f"removing {track} release {name}")

    def select(self, label: str) -> None:
        """Point the stable release's Service at one track's pods: one API call, so the switch is atomic."""
        patch = json.dumps({"spec": {"selector": {"track": label}}}, separators=(",", ":"))
        self.runner.check(self.kubectl("patch", "service", self.names.release,
                                       options=("--type", "merge", "--patch", patch)),
                          what=f"switching traffic to track {label}")

    def unpin(self) -> None:
        patch = json.dumps([{"op": "remove", "path": "/spec/selector/track"}], separators=(",", ":"))
        self.runner.check(self.kubectl("patch", "service", self.names.release,
                                       options=("--type", "json", "--patch", patch)),
                          what="spreading traffic over both tracks")

    def canary_weight(self, weight: int) -> None:
        text = manifests.canary_ingress(project=self.project, environment=self.environment,
                                        name=self.names.of("candidate"), namespace=self.names.namespace,
                                        values=self.values.effective(self.values.base()),
                                        service=self.names.of("candidate"), weight=weight)
        self.runner.check(self.kubectl("apply", options=("--filename", "-")), input=text,
                          what=f"canary weight {weight}%")

    def drop_canary_ingress(self) -> None:
        self.runner.check(self.kubectl("delete", "ingress", self.names.of("candidate"),
                                       options=("--ignore-not-found",)), what="removing the canary Ingress")

    def view(self) -> ClusterView:
        listed = self.runner.run(self.helm("list", options=("--output", "json")))
        if not listed.ok:
            raise BayatError(f"cannot list the Helm releases of {self.names.namespace}: {listed.message()}")
        selector = f"app.kubernetes.io/instance in ({','.join(self.names.all())})"
        objects = self.runner.run(self.kubectl("get", "deployments,services,ingresses", options=(
            "--selector", selector, "--output", "json")))
        if not objects.ok:
            raise BayatError(f"cannot read {self.names.namespace} from the cluster: {objects.message()}")
        return ClusterView.parse(listed.stdout, objects.stdout)

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        return int((self.values.effective(self.values.base()).get("service") or {}).get("port", 80))

    def address(self, name: str) -> str:
        return f"{name}.{self.names.namespace}.svc.cluster.local:{self.port}"

    def url(self) -> str:
        if self.env.url:
            return str(self.env.url).rstrip("/")
        return manifests.cluster_url(self.names.release, self.names.namespace, self.port)

    def direct_url(self, track: str) -> str:
        return manifests.cluster_url(self.names.of(track), self.names.namespace, self.port)

    # ------------------------------------------------------------------ verbs
    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        manifests.check_quota(self.env, self.spec.quota, f"environments.{self.environment}.target")
        text = self.namespace_manifests()
        (self.state_dir / "manifests").mkdir(parents=True, exist_ok=True)
        (self.state_dir / "manifests" / "namespace.yaml").write_text(text)
        self.runner.check(self.kubectl("apply", options=("--filename", "-"), namespaced=False), input=text,
                          what=f"preparing namespace {self.names.namespace}")

    def namespace_manifests(self) -> str:
        return manifests.namespace_manifests(
            project=self.project, environment=self.environment, namespace=self.names.namespace, env=self.env,
            quota=self.spec.quota, network_policy=self.spec.network_policy,
            ingress_namespaces=manifests.ingress_namespaces(self.values.effective(self.values.base())))

    def current(self) -> State:
        return build_state(self.environment, self.names, self.view(), self.book, self.address)

    def launch(self, release: Release, track: str, count: int) -> Track:
        view = self.view()
        state = build_state(self.environment, self.names, view, self.book, self.address)
        existing = state.tracks.get(track)
        if existing and existing.release.version != release.version:
            raise BayatError(f"track {track} already runs {existing.release.version}; abort or promote it first")
        total = (len(existing.instances) if existing else 0) + count
        self.install(track, release, total, selector=view.selector_label(self.names.release))
        self.book.put(track, release)
        name = self.names.of(track)
        return Track(track, release, [Instance(f"{name}/{i}", self.address(name), release.version)
                                      for i in range(total)], existing.weight if existing else 0)

    def health(self, track: str, timeout: float) -> Health:
        name = self.names.of(track)
        result = self.runner.run(self.kubectl("rollout", "status", f"deployment/{name}", options=(
            "--timeout", f"{max(1, int(timeout))}s")))
        if result.ok:
            return Health(True, result.stdout.strip().splitlines()[-1] if result.stdout.strip() else
                          f"deployment/{name} is rolled out")
        return Health(False, f"deployment/{name}: {result.message(5) or 'not ready'}")

    def shift(self, weights: dict[str, int]) -> None:
        if sum(weights.values()) != 100:
            raise BayatError(f"traffic weights must add up to 100, got {weights}")
        weights = {track: share for track, share in weights.items() if share}
        view = self.view()
        state = build_state(self.environment, self.names, view, self.book, self.address)
        unknown = [track for track in weights if track not in state.tracks]
        if unknown:
            raise BayatError(f"cannot send traffic to {', '.join(unknown)}: no such track in {self.environment}")
        canary_ingress = self.names.of("candidate") in view.ingresses
        if len(weights) == 1:
            (track,) = weights
            if view.selector_label(self.names.release) is None:
                # first deployment: the stable release brings the Service and Ingress, pointing at `track`
                self.install("stable", state.tracks[track].release, 0, selector=TRACK_LABELS[track])
            elif view.selector_label(self.names.release) != TRACK_LABELS[track]:
                self.select(TRACK_LABELS[track])
            if canary_ingress:
                self.drop_canary_ingress()
            return
        if set(weights) != {"stable", "candidate"}:
            raise BayatError(f"only the stable and candidate tracks can share traffic, not {sorted(weights)}")
        if self.values.host:
            if view.selector_label(self.names.release) != TRACK_LABELS["stable"]:
                self.select(TRACK_LABELS["stable"])
            self.canary_weight(weights["candidate"])
        elif view.selector_label(self.names.release):
            self.unpin()  # no ingress to weigh requests: the Service spreads them over both tracks' pods

    def promote(self, track: str, *, keep_warm_for: float = 0.0) -> None:
        view = self.view()
        state = build_state(self.environment, self.names, view, self.book, self.address)
        promoted = state.tracks[track]
        old = state.tracks.get("stable") if track != "stable" else None
        keep_old = keep_warm_for > 0 and old is not None and bool(old.instances) and track == "candidate" and \
            old.release.version != promoted.release.version
        if keep_old:
            self.install("warm", old.release, len(old.instances))
            retire_after = (datetime.now(timezone.utc) + timedelta(seconds=keep_warm_for)).isoformat()
            self.book.put("warm", old.release, retire_after=retire_after)
        # the stable release takes the promoted version over while traffic stays on the promoted pods,
        # then one selector patch moves it to them
        self.install("stable", promoted.release, self.env.resources.replicas,
                     selector=view.selector_label(self.names.release))
        self.select(TRACK_LABELS["stable"])
        if self.names.of("candidate") in view.ingresses:
            self.drop_canary_ingress()
        self.book.put("stable", promoted.release, retire_after="")
        for name in ("candidate", "warm"):
            # the promoted track's release is redundant now; an older warm track is replaced
            if name in state.tracks and (name == track or name == "warm") and not (name == "warm" and keep_old):
                self.uninstall(name)
                self.book.drop(name)
        if track != "stable":
            self.book.drop(track)

    def retire(self, track: str, count: int | None = None) -> None:
        view = self.view()
        state = build_state(self.environment, self.names, view, self.book, self.address)
        current = state.tracks.get(track)
        if current is None:
            return
        have = len(current.instances)
        if current.weight > 0 and (count is None or count >= have):
            raise BayatError(f"track {track} still receives {current.weight}% of traffic; shift it away first")
        remaining = 0 if count is None else max(0, have - count)
        if track == "stable":  # the stable release keeps the Service and Ingress, even with no pods
            self.install("stable", current.release, remaining, selector=view.selector_label(self.names.release))
            return
        if remaining:
            self.install(track, current.release, remaining)
            return
        if track == "candidate" and self.names.of("candidate") in view.ingresses:
            self.drop_canary_ingress()
        self.uninstall(track)
        self.book.drop(track)

    def decommission_due(self, now: datetime | None = None) -> bool:
        """Retire the warm track once its keep-warm time has passed; True when something was retired."""
        retire_after = self.book.get("warm").get("retire_after")
        if retire_after and datetime.fromisoformat(retire_after) <= (now or datetime.now(timezone.utc)):
            if "warm" in self.current().tracks:
                self.retire("warm")
            self.book.drop("warm")
            return True
        return False

    def remove(self) -> None:
        """Uninstall every track's release (the namespace with its quota and policies stays)."""
        view = self.view()
        if self.names.of("candidate") in view.ingresses:
            self.drop_canary_ingress()
        for track in ("candidate", "warm", "stable"):
            if self.names.of(track) in view.releases:
                self.uninstall(track)
        self.book.save({})

    def logs(self, track: str, lines: int = 200) -> str:
        result = self.runner.run(self.kubectl("logs", options=(
            "--selector", f"app.kubernetes.io/instance={self.names.of(track)}", "--all-containers", "--prefix",
            "--tail", str(lines))))
        return result.stdout if result.ok else ""
