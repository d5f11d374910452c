"""GitOps mode (`target.gitops`): a deployment is a commit to the environment's config repository,
which Argo CD or Flux syncs (standard: follow GitOps practices using ArgoCD or Flux).

A deployment makes one commit under `<path>/` (default `environments/<env>/`):
  values.yaml                 the chart values of the release (same layering as the helm mode)
  chart/                      the application's chart, copied at this version, plus
  chart/templates/bayat-*.yaml  the ResourceQuota, LimitRange and NetworkPolicy (and the Argo Rollouts
                              Rollout + AnalysisTemplate for canary / blue-green)
  application.yaml            Argo CD: the Application (source: this directory's chart + values.yaml)
  flux.yaml, kustomization.yaml, namespace.yaml   Flux: GitRepository + HelmRelease, and the namespace
The message names the version, environment, who triggered it and the pipeline. Then the deployment
waits for the sync signal within `sync_timeout`: Argo CD's API says Synced at that commit and
Healthy; Flux's HelmRelease is Ready with the commit in its chart revision.

Canary and blue/green are performed by the controller side through Argo Rollouts (needs
`argo_rollouts: true`): the commit carries a Rollout whose pauses are indefinite, and the
strategy's `shift` resumes it step by step - through Argo CD's Rollout actions (`resume`,
`promote-full`) with Argo CD, or kubectl status patches with Flux - after its own checks pass.
That keeps one commit per deployment (git says which version the environment runs; the Rollout's
progress is runtime state), the policy's pauses and analysis decide each step, and no step waits
twice. Committing every weight instead would put a dozen commits per deployment into the history and
make each step wait for a sync. A rolling deployment is the Deployment's own rolling update.

Going back is a `git revert` of the deployment's commit, pushed, then the same wait: an aborted
canary reverts the candidate's commit, a rollback reverts the stable's. The "warm" track is the
previous release, one revert away (Argo Rollouts blue/green also keeps its pods for
`decommission_after`). Tracks and commits are remembered in `kubernetes.json` in the state store.
"""

from __future__ import annotations

from dataclasses import asdict

from bayat_deploy.deploy.targets.base import Health, Instance, Release, State, Track
from bayat_deploy.deploy.targets.kubernetes import manifests
from bayat_deploy.deploy.targets.kubernetes.configrepo import ConfigRepo
from bayat_deploy.deploy.targets.kubernetes.helm import KubernetesTarget
from bayat_deploy.deploy.targets.kubernetes.rollouts import KubectlRollout, paused_at, wait_for
from bayat_deploy.errors import BadInput, BayatError


class GitOpsTarget(KubernetesTarget):
    kind = "kubernetes-gitops"

    def __init__(self, session, environment: str, runner=None):
        super().__init__(session, environment, runner)
        policy = session.policy
        self.gitops = self.spec.gitops
        self.tool = self.gitops.tool
        self.path = policy.substitute(self.gitops.path, environment).strip("/")
        self.application = policy.substitute(self.gitops.application, environment)
        repository = policy.substitute(self.gitops.repository, environment)
        if "://" not in repository and not repository.startswith("git@") and (session.root / repository).exists():
            repository = str(session.root / repository)
        self.repository = repository
        author = (session.context.get("GIT_AUTHOR_NAME") or "bayat-deploy",
                  session.context.get("GIT_AUTHOR_EMAIL") or "bayat-deploy@users.noreply.invalid")
        self.repo = ConfigRepo(self.runner, repository, self.gitops.branch, self.state_dir / "config-repo",
                               author=author)
        self.uses_rollouts = self.env.strategy.type in ("canary", "blue-green")
        self._api = None
        self._recovered = False

    # ------------------------------------------------------------------ the controller
    @property
    def api(self):
        if self._api is None:
            from bayat_deploy.deploy.targets.kubernetes.argocd import ArgoCD

            self._api = ArgoCD.from_context(self.session.context)
        return self._api

    @property
    def control(self):
        if self.tool == "argocd":
            from bayat_deploy.deploy.targets.kubernetes.argocd import ArgoCDRollout

            return ArgoCDRollout(self.api, self.application, self.names.release, self.names.namespace)
        return KubectlRollout(self.runner, self.names.release, self.names.namespace, self.spec.context)

    @property
    def sync_timeout(self) -> float:
        return self.gitops.sync_timeout.seconds

    def wait_synced(self, commit: str, *, fetch: bool = True) -> str:
        """The controller's word that `commit` is live (a Rollout paused at a step counts as live).
        `fetch`: ask the controller to look at git now (not needed once it has synced the commit)."""
        if self.tool == "argocd":
            from bayat_deploy.deploy.targets.kubernetes.argocd import wait_synced

            accept = ("Healthy", "Suspended") if self.uses_rollouts else ("Healthy",)
            return wait_synced(self.api, self.application, commit, timeout=self.sync_timeout,
                               poll=self.poll_interval, accept=accept, refresh=fetch)
        from bayat_deploy.deploy.targets.kubernetes.flux import FluxSync

        return FluxSync(self.runner, application=self.application, source=f"{self.application}-config",
                        namespace=self.names.namespace, context=self.spec.context).wait(
            commit, timeout=self.sync_timeout, poll=self.poll_interval, fetch=fetch)

    def plan(self, first_count: int = 1, version: str = "x") -> manifests.RolloutPlan:
        return manifests.rollout_plan(self.env.strategy, first_count, analysis=bool(self.metrics(version)))

    def metrics(self, version: str) -> list[dict]:
        service = manifests.cluster_url(self.names.of("candidate"), self.names.namespace, self.port)
        return manifests.analysis_metrics(self.env.verify, service, version)

    # ------------------------------------------------------------------ the config repository
    def files(self, release: Release, first_count: int) -> dict[str, str]:
        import yaml

        env_values = self.values.for_track(self.names, "stable", release, self.env.resources.replicas,
                                           rollout_template=self.uses_rollouts)
        effective = self.values.effective(env_values)
        files = {f"{self.path}/values.yaml": f"# {self.project} {release.version} in {self.environment}, written by "
                                             "bayat-deploy: the next deployment rewrites it.\n"
                                             + yaml.safe_dump(env_values, sort_keys=False),
                 f"{self.path}/chart/templates/bayat-platform.yaml": manifests.namespace_manifests(
                     project=self.project, environment=self.environment, namespace=self.names.namespace,
                     env=self.env, quota=self.spec.quota, network_policy=self.spec.network_policy,
                     ingress_namespaces=manifests.ingress_namespaces(effective), include_namespace=False)}
        if self.uses_rollouts:
            files[f"{self.path}/chart/templates/bayat-rollout.yaml"] = manifests.rollout_manifests(
                project=self.project, environment=self.environment, name=self.names.release,
                namespace=self.names.namespace, env=self.env, plan=self.plan(first_count, release.version),
                metrics=self.metrics(release.version), values=effective, candidate_service=self.names.of("candidate"),
                version=release.version)
        common = dict(project=self.project, environment=self.environment, application=self.application,
                      repository=self.repository, branch=self.gitops.branch, path=self.path,
                      release=self.names.release, namespace=self.names.namespace)
        if self.tool == "argocd":
            files[f"{self.path}/application.yaml"] = manifests.argocd_application(**common, cluster=self.spec.context)
        else:
            for name, text in manifests.flux_manifests(**common, timeout=self.timeout).items():
                files[f"{self.path}/{name}"] = text
            files[f"{self.path}/namespace.yaml"] = manifests.render(
                "namespace.yaml.j2", project=self.project, environment=self.environment,
                namespace=self.names.namespace, labels=manifests.labels(self.project, self.environment))
        return files

    def message(self, subject: str, release: Release | None = None, **trailers: str) -> str:
        context = self.session.context
        lines = [subject, "", f"Environment: {self.environment}"]
        if release is not None:
            lines += [f"Version: {release.version}", f"Image: {release.pinned}"]
            if release.config_hash:
                lines.append(f"Config-hash: {release.config_hash}")
        lines += [f"{key.replace('_', '-').capitalize()}: {value}" for key, value in trailers.items()]
        lines += [f"Triggered-by: {context.actor or 'unknown'}", f"Pipeline: {context.pipeline_url or 'run locally'}"]
        if context.sha:
            lines.append(f"Source-commit: {context.sha}")
        return "\n".join(lines) + "\n"

    def commit_release(self, release: Release, first_count: int) -> str | None:
        self.repo.sync()
        self.repo.replace_directory(f"{self.path}/chart", self.values.chart_dir)
        self.repo.write(self.files(release, first_count))
        sha = self.repo.commit(self.message(f"deploy {self.project} {release.version} to {self.environment}",
                                            release), [self.path])
        return self.repo.push() if sha else None

    def revert(self, commit: str, subject: str, **trailers: str) -> str:
        """Revert `commit`, push, and wait until the controller runs the result."""
        self.repo.sync()
        sha = self.repo.revert(commit, self.message(subject, Reverts=commit, **trailers))
        sha = self.repo.push()
        self.wait_synced(sha)
        if self.uses_rollouts:
            status = self.control.status()
            if status is not None and not status.completed:
                self.control.promote_full()  # back to a known-good version: no steps again
                wait_for(self.control, lambda s: s.completed, timeout=self.sync_timeout, poll=self.poll_interval,
                         what="returning to the previous version", allow_abort=True)
        return sha

    # ------------------------------------------------------------------ verbs
    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        where = f"environments.{self.environment}.target"
        manifests.check_quota(self.env, self.spec.quota, where)
        if self.uses_rollouts and not self.spec.argo_rollouts:
            raise BadInput(f"{where}: a GitOps {self.env.strategy.type} deployment is performed by Argo Rollouts; "
                           "set argo_rollouts: true (the cluster needs the Argo Rollouts controller) or use the "
                           "rolling strategy")
        if self.values.chart_dir is None:
            raise BadInput(f"{where}.chart: GitOps copies the chart into the config repository, so it must be a "
                           f"chart directory of this repository ({self.values.chart!r} is not)")
        if self.tool == "argocd":
            self.api  # noqa: B018 - fails now, before any commit, when Argo CD cannot be asked
        self.repo.sync()

    def recover(self) -> None:
        """A new state directory (a fresh CI runner) learns the tracks from the config repository: its
        deploy and revert commits say which release runs and which one a revert goes back to."""
        if self._recovered or self.book.load():
            return
        self._recovered = True
        if not (self.repo.clone / ".git").exists():
            self.repo.sync()
        live: list[tuple[str, dict]] = []
        history = self.repo.log(self.path)
        for sha, trailers in history:
            if "Reverts" in trailers:
                live = [entry for entry in live if entry[0] != trailers["Reverts"]]
            elif "Version" in trailers:
                live.append((sha, trailers))
        if not live:
            return
        releases = [self._recorded_release(sha, trailers) for sha, trailers in live[-2:]]
        head = history[-1][0]
        tracks = {"stable": {"release": asdict(releases[-1]), "commit": head, "weight": 100,
                             "pods": self.env.resources.replicas, "synced": head}}
        if len(releases) == 2 and head == live[-1][0]:  # the last change was a deployment: one revert away
            tracks["warm"] = {"release": asdict(releases[0]), "commit": live[-2][0], "weight": 0, "pods": 0}
        self.book.save(tracks)

    def _recorded_release(self, sha: str, trailers: dict) -> Release:
        import yaml

        values = yaml.safe_load(self.repo.show(sha, f"{self.path}/values.yaml") or "{}") or {}
        image = values.get("image") or {}
        return Release(version=trailers["Version"], image=f"{image.get('repository', '')}:{image.get('tag', '')}",
                       digest=image.get("digest", ""), config_hash=trailers.get("Config-hash", ""))

    def current(self) -> State:
        self.recover()
        state = State(self.environment)
        for track, entry in self.book.load().items():
            if "release" not in entry:
                continue
            release = Release(**entry["release"])
            name = self.names.of(track)
            instances = [Instance(f"{name}/{i}", self.address(name), release.version)
                         for i in range(int(entry.get("pods", 0)))]
            state.tracks[track] = Track(track, release, instances, int(entry.get("weight", 0)),
                                        entry.get("retire_after", ""))
        return state

    def launch(self, release: Release, track: str, count: int) -> Track:
        self.recover()
        existing = self.book.get(track)
        if existing and existing["release"]["version"] != release.version:
            raise BayatError(f"track {track} already runs {existing['release']['version']}; abort or promote it "
                             "first")
        if existing or track == "stable":  # the controller runs every pod of the committed version
            pods = min(self.env.resources.replicas, int(existing.get("pods", 0)) + count)
            self.book.put(track, release, pods=pods)
        else:
            commit = self.commit_release(release, count)
            self.book.put(track, release, commit=commit, pods=count, weight=0, reverted=False)
        return self.current().tracks[track]

    def health(self, track: str, timeout: float) -> Health:
        entry = self.book.get(track)
        if not entry:
            return Health(False, f"no {track} track in {self.environment}")
        if track != "candidate" or not entry.get("commit"):
            return Health(True, f"{entry['release']['version']} is what the config repository declares")
        try:
            detail = self.wait_synced(entry["commit"], fetch=entry.get("synced") != entry["commit"])
            self.book.update(track, synced=entry["commit"])
            if self.uses_rollouts:
                launched = paused_at(self.plan().launch_pause) if self.env.strategy.type == "canary" else \
                    (lambda s: s.paused)
                status = wait_for(self.control, lambda s: s.completed or launched(s), timeout=self.sync_timeout,
                                  poll=self.poll_interval, what="the new version's pods")
                detail += f"; Rollout {status.describe()}"
        except BayatError as exc:
            return Health(False, str(exc))
        return Health(True, detail)

    def shift(self, weights: dict[str, int]) -> None:
        if sum(weights.values()) != 100:
            raise BayatError(f"traffic weights must add up to 100, got {weights}")
        weights = {track: share for track, share in weights.items() if share}
        book = self.book.load()
        unknown = [track for track in weights if track not in book]
        if unknown:
            raise BayatError(f"cannot send traffic to {', '.join(unknown)}: no such track in {self.environment}")
        if weights == {"stable": 100}:
            candidate = book.get("candidate", {})
            if candidate.get("commit") and not candidate.get("reverted"):
                back_to = book.get("stable", {}).get("release", {}).get("version", "the previous state")
                self.revert(candidate["commit"], f"abort {self.project} {candidate['release']['version']} in "
                                                 f"{self.environment}: back to {back_to}")
                self.book.update("candidate", reverted=True)
        elif weights == {"warm": 100}:
            stable = book.get("stable", {})
            if not stable.get("commit"):
                raise BayatError(f"the stable release of {self.environment} was not deployed by a commit here; "
                                 f"deploy {book['warm']['release']['version']} instead")
            versions = f"{stable['release']['version']} -> {book['warm']['release']['version']}"
            sha = self.revert(stable["commit"], f"roll back {self.project} in {self.environment}: {versions}")
            self.book.update("warm", commit=sha)
        elif self.uses_rollouts and weights == {"candidate": 100}:
            status = self.control.status()
            if status is not None and not status.completed:
                (self.control.promote_full if self.env.strategy.type == "canary" else self.control.resume)()
                wait_for(self.control, lambda s: s.completed, timeout=self.sync_timeout, poll=self.poll_interval,
                         what="promotion")
        elif self.uses_rollouts:
            self._advance(weights)
        for track in self.book.load():
            self.book.update(track, weight=weights.get(track, 0))

    def _advance(self, weights: dict[str, int]) -> None:
        if set(weights) != {"stable", "candidate"}:
            raise BayatError(f"Argo Rollouts moves traffic between stable and candidate only, not {sorted(weights)}")
        target = self.plan().pause_for(weights["candidate"])
        status = self.control.status()
        if status is None or not status.in_progress or status.aborted:
            raise BayatError(f"no canary in progress to move to {weights['candidate']}%")
        while status.step is None or status.step < target:
            self.control.resume()
            status = wait_for(self.control, lambda s, at=status.step: s.paused and (s.step or 0) > (at or 0),
                              timeout=self.sync_timeout, poll=self.poll_interval, what=f"{weights['candidate']}% step")

    def promote(self, track: str, *, keep_warm_for: float = 0.0) -> None:
        book = self.book.load()
        promoted = book[track]
        previous = book.get("stable") if track == "candidate" else None
        tracks = {"stable": {**promoted, "weight": 100, "pods": self.env.resources.replicas, "retire_after": ""}}
        if previous and promoted.get("commit"):
            # the previous release stays one revert away
            tracks["warm"] = {**previous, "weight": 0, "pods": 0}
        self.book.save(tracks)

    def retire(self, track: str, count: int | None = None) -> None:
        entry = self.book.get(track)
        if not entry:
            return
        pods = int(entry.get("pods", 0))
        if count is not None and count < pods:
            self.book.update(track, pods=pods - count)  # the controller's rolling update replaces them
            return
        if track == "stable":
            self.book.update(track, pods=0)
            return
        if track == "candidate" and entry.get("commit") and not entry.get("reverted"):
            if int(entry.get("weight", 0)) > 0:
                raise BayatError(f"track {track} still receives {entry['weight']}% of traffic; shift it away first")
            self.revert(entry["commit"], f"withdraw {self.project} {entry['release']['version']} from "
                                         f"{self.environment}")
        self.book.drop(track)

    def remove(self) -> None:
        """Take the environment down: a commit that empties its directory (Flux's Kustomization then
        prunes the HelmRelease and namespace), and with Argo CD the Application is deleted with its
        resources (cascade); the next deployment writes the directory again, and application.yaml has
        to be applied once more."""
        self.repo.sync()
        folder = self.repo.clone / self.path
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        if self.tool == "flux":
            self.repo.write({f"{self.path}/kustomization.yaml": manifests.render("kustomization.yaml.j2",
                                                                                 path=self.path, empty=True)})
        if self.repo.commit(self.message(f"remove {self.project} from {self.environment}"), [self.path]):
            self.repo.push()
        if self.tool == "argocd":
            self.api.delete_application(self.application)
        self.book.save({})

    def decommission_due(self, now=None) -> bool:
        return False  # the warm track is a commit to revert to: it costs nothing to keep

    def direct_url(self, track: str) -> str:
        if self.uses_rollouts and track == "candidate":
            return manifests.cluster_url(self.names.of("candidate"), self.names.namespace, self.port)
        return manifests.cluster_url(self.names.release, self.names.namespace, self.port)

