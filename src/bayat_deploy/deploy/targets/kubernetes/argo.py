"""Helm mode with Argo Rollouts (`target.argo_rollouts: true`) for a canary environment.

The stable release's Deployment is only a pod template (0 replicas, no HPA); a Rollout refers to it
(`workloadRef`) and owns the pods. Its steps come from the policy: the new version first starts with
the pods the strategy asks for and no traffic (`setCanaryScale` + pause, for the direct checks), then
each policy step is `setWeight` (+ the smoke AnalysisTemplate when the policy has checks Argo Rollouts
can judge) + an indefinite pause. bayat-deploy moves it along:

- `launch`: `kubectl apply` the Rollout, then `helm upgrade` the template to the new image;
- `health`: wait until the Rollout pauses at the launch step (or finished, on a first install);
- `shift` to w%: clear the pause (`kubectl patch rollout --subresource status`, as the
  `kubectl argo rollouts promote` plugin does) until it pauses after `setWeight: w`; 100% is a
  full promotion; back to stable is an abort;
- `retire` of the candidate: `helm rollback <release> <revision> --wait` puts the template back, and
  the Rollout's `rollbackWindow` makes returning to a recent revision immediate (no steps again).

Traffic is weighted by the NGINX ingress (`trafficRouting.nginx`) when the environment has a URL;
without one Argo Rollouts approximates the weights with pod counts.
"""

from __future__ import annotations

from bayat_deploy.deploy.targets.base import Health, Instance, Release, State, Track
from bayat_deploy.deploy.targets.kubernetes import manifests
from bayat_deploy.deploy.targets.kubernetes.helm import KubernetesTarget
from bayat_deploy.deploy.targets.kubernetes.rollouts import (KubectlRollout, RolloutStatus, back_on_stable,
                                                             fully_promoted, paused_at, wait_for)
from bayat_deploy.errors import BayatError


class ArgoRolloutsTarget(KubernetesTarget):
    def __init__(self, session, environment: str, runner=None):
        super().__init__(session, environment, runner)
        self.rollout = KubectlRollout(self.runner, self.names.release, self.names.namespace, self.spec.context)

    # ------------------------------------------------------------------ the Rollout
    def metrics(self, version: str) -> list[dict]:
        service = manifests.cluster_url(self.names.of("candidate"), self.names.namespace, self.port)
        return manifests.analysis_metrics(self.env.verify, service, version)

    def plan(self, first_count: int = 1, version: str = "") -> manifests.RolloutPlan:
        return manifests.rollout_plan(self.env.strategy, first_count, analysis=bool(self.metrics(version or "x")))

    def rollout_manifests(self, release: Release, first_count: int) -> str:
        return manifests.rollout_manifests(
            project=self.project, environment=self.environment, name=self.names.release,
            namespace=self.names.namespace, env=self.env, plan=self.plan(first_count, release.version),
            metrics=self.metrics(release.version), values=self.values.effective(self.values.base()),
            candidate_service=self.names.of("candidate"), version=release.version)

    def candidate_done(self, status: RolloutStatus) -> bool:
        """The Rollout completed with the candidate's template: the candidate is what runs now."""
        started_from = self.book.get("candidate").get("stable_hash")
        return status.completed and started_from is not None and status.stable_hash != started_from

    # ------------------------------------------------------------------ verbs
    def current(self) -> State:
        state = State(self.environment)
        status = self.rollout.status()
        if status is None:
            return state
        stable, candidate = self.book.release("stable"), self.book.release("candidate")
        if candidate and self.candidate_done(status):
            state.tracks["candidate"] = self._track("candidate", candidate, status.replicas, 100)
            return state
        weight = 0
        if status.in_progress and not status.aborted:
            weight = status.canary_weight if status.canary_weight is not None else self._step_weight(status)
        if stable:
            pods = status.replicas - status.updated if status.in_progress else status.replicas
            state.tracks["stable"] = self._track("stable", stable, pods, 100 - weight)
        if candidate and status.in_progress:
            state.tracks["candidate"] = self._track("candidate", candidate, status.updated, weight)
        return state

    def _track(self, track: str, release: Release, pods: int, weight: int) -> Track:
        name = self.names.of(track)
        return Track(track, release, [Instance(f"{name}/{i}", self.address(name), release.version)
                                      for i in range(max(0, pods))], weight)

    def _step_weight(self, status: RolloutStatus) -> int:
        weight = 0
        for index, step in enumerate(self.plan().steps):
            if status.step is not None and index < status.step and step["kind"] == "weight":
                weight = step["weight"]
        return weight

    def launch(self, release: Release, track: str, count: int) -> Track:
        existing = self.current().tracks.get(track)
        if existing:
            if existing.release.version != release.version:
                raise BayatError(f"track {track} already runs {existing.release.version}; abort or promote it first")
            return existing  # the Rollout sizes the canary with its weight; stable comes back with an abort
        if track != "candidate":
            raise BayatError(f"Argo Rollouts runs the {track} track itself; only a new version can be started")
        status = self.rollout.status()
        revision = self.view().revision(self.names.release)
        self.book.put("candidate", release, stable_hash=status.stable_hash if status else "", revision=revision)
        apply = lambda: self.runner.check(  # noqa: E731
            self.kubectl("apply", options=("--filename", "-")), input=self.rollout_manifests(release, count),
            what=f"Rollout {self.names.release}")
        if status is not None:
            apply()  # the steps first: the template change below starts the canary
        self.install("stable", release, 0, rollout_template=True)
        if status is None:
            apply()  # a first install: the Rollout's workloadRef needs the Deployment to exist
        return self._track("candidate", release, count, 0)

    def health(self, track: str, timeout: float) -> Health:
        if track != "candidate":
            status = self.rollout.status()
            ok = status is not None and status.phase != "Degraded"
            return Health(ok, status.describe() if status else f"Rollout {self.names.release} not found")
        try:
            launched = paused_at(self.plan().launch_pause)
            status = wait_for(self.rollout, lambda s: self.candidate_done(s) or launched(s), timeout=timeout,
                              poll=self.poll_interval, what="the new version's pods")
        except BayatError as exc:
            return Health(False, str(exc))
        return Health(True, status.describe())

    def shift(self, weights: dict[str, int]) -> None:
        if sum(weights.values()) != 100:
            raise BayatError(f"traffic weights must add up to 100, got {weights}")
        weights = {track: share for track, share in weights.items() if share}
        status = self.rollout.status()
        if status is None:
            raise BayatError(f"Rollout {self.names.release} not found in {self.names.namespace}")
        timeout = self.spec.timeout.seconds
        if weights == {"stable": 100}:
            if self.candidate_done(status):
                self._template_back()
            elif status.in_progress and not status.aborted:
                self.rollout.abort()
                wait_for(self.rollout, back_on_stable, timeout=timeout, poll=self.poll_interval,
                         what="abort", allow_abort=True)
            return
        if weights == {"candidate": 100}:
            if not self.candidate_done(status):
                self.rollout.promote_full()
                wait_for(self.rollout, fully_promoted, timeout=timeout, poll=self.poll_interval,
                         what="full promotion")
            return
        if set(weights) != {"stable", "candidate"}:
            raise BayatError(f"Argo Rollouts moves traffic between stable and candidate only, not {sorted(weights)}")
        target = self.plan().pause_for(weights["candidate"])
        if not status.in_progress or status.aborted:
            raise BayatError(f"no canary in progress to move to {weights['candidate']}% ({status.describe()})")
        while status.step is None or status.step < target:
            self.rollout.resume()
            status = wait_for(self.rollout, lambda s, at=status.step: s.paused and (s.step or 0) > (at or 0),
                              timeout=timeout, poll=self.poll_interval, what=f"{weights['candidate']}% step")

    def _template_back(self) -> None:
        revision = self.book.get("candidate").get("revision")
        if not revision:  # the first install failed: nothing ran before it
            self.runner.check(self.kubectl("delete", "rollout", self.names.release, options=("--ignore-not-found",)),
                              what=f"removing Rollout {self.names.release}")
            self.uninstall("stable")
            self.book.drop("candidate")
            return
        self.runner.check(self.helm("rollback", self.names.release, str(revision), options=(
            "--wait", "--timeout", self.timeout)), what=f"returning {self.names.release} to revision {revision}")
        wait_for(self.rollout, lambda s: s.completed, timeout=self.spec.timeout.seconds, poll=self.poll_interval,
                 what="rollback", allow_abort=True)
        self.book.drop("candidate")

    def promote(self, track: str, *, keep_warm_for: float = 0.0) -> None:
        status = self.rollout.status()
        if track == "candidate" and status is not None and not self.candidate_done(status):
            self.rollout.promote_full()
            wait_for(self.rollout, fully_promoted, timeout=self.spec.timeout.seconds, poll=self.poll_interval,
                     what="full promotion")
        release = self.book.release(track)
        if release is None:
            raise BayatError(f"no {track} track to promote in {self.environment}")
        self.book.put("stable", release, retire_after="")
        self.book.drop("candidate")

    def remove(self) -> None:
        """Delete the Rollout and the objects generated beside it, then uninstall the template release."""
        selector = f"app.kubernetes.io/instance={self.names.release},app.kubernetes.io/managed-by=bayat-deploy"
        self.runner.check(self.kubectl("delete", "rollouts,services,horizontalpodautoscalers,analysistemplates",
                                       options=("--selector", selector, "--ignore-not-found")),
                          what=f"removing Rollout {self.names.release}")
        super().remove()

    def retire(self, track: str, count: int | None = None) -> None:
        if track != "candidate" or "candidate" not in self.book.load():
            return  # Argo Rollouts scales the old ReplicaSets down itself
        status = self.rollout.status()
        if status is not None and status.in_progress and not status.aborted and (status.canary_weight or 0) > 0:
            raise BayatError("the canary still receives traffic; shift it away first")
        self._template_back()
