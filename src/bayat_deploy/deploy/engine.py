"""A deployment, start to finish: lock, reconcile, record ahead, back up, migrate, roll out, verify, roll back
if needed, record the result."""

from __future__ import annotations

import calendar
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field

from bayat_deploy import evidence
from bayat_deploy.deploy import smoke
from bayat_deploy.deploy.record import Entry, Record
from bayat_deploy.deploy.strategies import Hooks, Outcome, Verdict, strategy_for
from bayat_deploy.deploy.targets import Target, target_for
from bayat_deploy.deploy.targets.base import Release
from bayat_deploy.errors import BayatError, ResourceError


@dataclass
class Deployment:
    """One environment's deployment machinery, shared by deploy, verify, rollback, promote and abort."""

    session: object
    environment: str
    target: Target = field(init=False)
    record: Record = field(init=False)

    def __post_init__(self):
        from bayat_deploy.deploy.failpoints import Failpoints

        self.failpoint = Failpoints.of(self.session.context)
        self.env = self.session.policy.environment(self.environment)
        self.target = target_for(self.session, self.environment)
        self.record = Record(self.target.store, on_append=self._audit)

    def _audit(self, entry: Entry) -> None:
        """Tell the CI platform's deployment history (GitHub Deployments) about a stored entry: one deployment per
        attempt, so an attempt's in-progress entry waits for its final one (or its `interrupted` close)."""
        if entry.outcome == "in-progress":
            return
        try:
            url = str(self.env.url) if self.env.url else self.target.url()
        except BayatError:
            url = ""
        self.session.platform.record_deployment(entry, url=url, production=self.env.tier == "production")

    def say(self, text: str) -> None:
        print(text, flush=True)

    # ------------------------------------------------------------------ hooks for the strategies
    def smoke(self, url: str, version: str) -> tuple[Verdict, list[smoke.CheckResult]]:
        results = smoke.run_smoke_tests(url, self.env.verify, version)
        failed = smoke.failed_critical(results)
        if failed:
            return Verdict("fail", "; ".join(f"{r.name}: {r.message}" for r in failed)), results
        return Verdict("pass", f"{len(results)} check(s) passed"), results

    def hooks(self, release: Release) -> Hooks:
        def direct(track: str) -> Verdict:
            return self.smoke(self.target.direct_url(track), release.version)[0]

        def routed() -> Verdict:
            return self.smoke(self.target.url(), release.version)[0]

        def analyze(step: str) -> Verdict:
            health = self.target.health("candidate", 5) if "candidate" in self.target.current().tracks else None
            if health is not None and not health.ok:
                return Verdict("fail", health.detail)
            from bayat_deploy.deploy.analysis_hook import analyze_step

            return analyze_step(self, release, step)

        return Hooks(check_direct=direct, check_routed=routed, analyze=analyze, say=self.say)

    # ------------------------------------------------------------------ entries
    def entry(self, action: str, version: str, outcome: str, started: float, **fields) -> Entry:
        context = self.session.context
        return Entry(environment=self.environment, action=action, version=version, outcome=outcome,
                     strategy=self.env.strategy.type, triggered_by=context.actor,
                     pipeline_url=context.pipeline_url, commit=context.sha,
                     started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), finished=evidence.now(),
                     duration_seconds=round(time.time() - started, 3), **fields)

    # ------------------------------------------------------------------ the lock, and repairs under it
    @contextmanager
    def locked(self, holder: str, timeout: float = 600.0, *, reconcile: bool = True):
        """The environment's deployment lock, the environment reconciled as soon as it is held: whatever a
        command killed half-way left behind is repaired and recorded before anything else acts (`reconcile`
        False: the caller reconciles itself, to record a failure as its attempt)."""
        with ExitStack() as held:
            try:
                held.enter_context(self.record.lock(holder, timeout=timeout))
            except OSError as exc:
                raise ResourceError(f"cannot take {self.environment}'s deployment lock, so nothing was changed: "
                                    f"{ResourceError.of(exc)}") from None
            if reconcile:
                self.reconcile()
            yield

    def reconcile(self) -> list[str]:
        """Repair the target's state from what serves, then close every open attempt (held under the lock,
        an open attempt is one whose process died) as `interrupted`. Returns the repairs in words."""
        try:
            found = self.target.reconcile()
            for repair in found:
                self.say(f"reconciled {self.environment}: {repair}")
            repairs = list(found)
            for attempt in self.record.open_attempts():
                repairs += self._close_interrupted(attempt, found)
        except OSError as exc:
            raise ResourceError(f"cannot repair {self.environment}'s state: {ResourceError.of(exc)}") from None
        return repairs

    def _close_interrupted(self, attempt: Entry, found: list[str]) -> list[str]:
        state = self.target.current()
        candidate = state.tracks.get("candidate")
        repairs = []
        if candidate is not None and candidate.release.version == attempt.version:
            if attempt.action == "rollback" and candidate.weight:
                # a rollback moves all traffic at once, to a version that served before: finish what it began
                if candidate.weight < sum(t.weight for t in state.tracks.values()):
                    self.target.shift({"candidate": 100})
                self.target.promote("candidate")
                repairs.append(f"the rollback had moved traffic to {attempt.version}: it serves all traffic, not yet "
                               "verified; `bayat-deploy rollback` verifies it")
            elif "stable" not in state.tracks and candidate.weight:
                self.target.promote("candidate")  # nothing else is left to serve: keep it, recorded as serving
                repairs.append(f"{attempt.version} serves all traffic, without the checks its deployment would have "
                               "run; `bayat-deploy rollback` returns to the version before it")
            else:  # as a failed rollout ends: all traffic on stable, the candidate stopped
                strategy = strategy_for(self.env.strategy.type)(self.target, self.env, candidate.release,
                                                                self.hooks(candidate.release))
                strategy.restore()
                repairs.append(f"the candidate {attempt.version} is stopped, never adopted"
                               + (" and traffic is back on the stable version" if candidate.weight else ""))
        serving = self.target.current().serving() or "nothing"
        details = attempt.details
        began = calendar.timegm(time.strptime(attempt.started, "%Y-%m-%dT%H:%M:%SZ")) if attempt.started else time.time()
        entry = self.entry(attempt.action, attempt.version, "interrupted", began, image=attempt.image,
                           digest=attempt.digest, config_hash=attempt.config_hash,
                           previous_version=attempt.previous_version,
                           reason=(f"interrupted: pid {details.get('pid', '?')} on {details.get('runner', '?')} stopped "
                                   f"before recording a result; {'; '.join(found + repairs) or 'nothing to repair'}; "
                                   f"serving now: {serving}"),
                           details={"repairs": found + repairs, "serving": serving})
        self.record.finish(attempt, entry)
        self.say(f"reconciled {self.environment}: {entry.reason}")
        return repairs

    # ------------------------------------------------------------------ deploy
    def deploy(self, release: Release, lock_timeout: float = 600.0,
               allow_downgrade: bool = False) -> tuple[Entry, Outcome]:
        started = time.time()
        holder = f"{self.session.context.actor or 'someone'} deploying {release.version}"
        with self.locked(holder, timeout=lock_timeout, reconcile=False):
            try:
                self.reconcile()
            except BayatError as exc:  # the target is out of reach or misplaced: an attempt all the same
                entry = self.record_refusal(release.version, exc, started)
                self.say(f"deployment stopped before any change: {exc}")
                return entry, Outcome("failed", entry.reason)
            previous = self.target.current().serving() or ""
            fields = dict(image=release.image, digest=release.digest, config_hash=release.config_hash,
                          previous_version=previous)
            if previous and not allow_downgrade and _older(release.version, previous):
                reason = (f"{previous} serves {self.environment} now, newer than {release.version} (deployed while "
                          "this deployment waited?); nothing was changed: `bayat-deploy rollback` goes back, "
                          "`deploy --allow-downgrade` deploys an older version on purpose")
                entry = self.record.finish(None, self.entry("deploy", release.version, "failed", started,
                                                            reason=reason, **fields))
                self.say(f"refused: {reason}")
                return entry, Outcome("failed", reason)
            try:
                attempt = self.record.begin(self.entry("deploy", release.version, "in-progress", started, **fields),
                                            tracks=["candidate"], replicas=self.env.resources.replicas)
            except OSError as exc:
                raise ResourceError(f"cannot record the deployment of {release.version} ahead, so nothing was "
                                    f"changed: {ResourceError.of(exc)}") from None
            self.failpoint("attempt-recorded")
            try:
                self.target.prepare()
                self.target.decommission_due()
                backup = self.database_backup(release)
                self.database_migrate()
            except (BayatError, OSError) as exc:
                problem = str(ResourceError.of(exc)) if isinstance(exc, OSError) else str(exc)
                entry = self._finish(attempt, self.entry("deploy", release.version, "failed", started,
                                                         reason=f"{problem}; nothing was rolled out", **fields))
                self.say(f"deployment stopped before any change: {problem}")
                return entry, Outcome("failed", entry.reason)
            strategy = strategy_for(self.env.strategy.type)(self.target, self.env, release, self.hooks(release))
            if self.env.strategy.type == "feature-flags":
                from bayat_deploy.deploy.flags import FlagStore

                strategy.store = FlagStore(self.session, self.environment)
                strategy.settings = self.session.policy.feature_flags
            self.say(f"deploying {release.version} to {self.environment} ({self.env.strategy.type}); "
                     f"serving now: {previous or 'nothing'}")
            outcome = strategy.run()
            result = {"succeeded": "succeeded", "paused": "paused"}.get(outcome.status, "failed")
            if result == "failed" and outcome.traffic_switched:
                result = "rolled-back"  # the new version had traffic and the strategy took it back
            reason = outcome.reason
            if outcome.status == "failed" and outcome.traffic_switched:
                reason = f"{reason}; traffic was returned to {previous or 'no version'}"
            entry = self._finish(attempt, self.entry(
                "deploy", release.version, result, started, reason=reason, **fields,
                details={"steps": [s.__dict__ for s in outcome.steps], "backup": backup}))
        return entry, outcome

    def _finish(self, attempt: Entry, entry: Entry) -> Entry:
        try:
            return self.record.finish(attempt, entry)
        except OSError as exc:
            raise ResourceError(f"{entry.version} {entry.outcome} in {self.environment}, but its result could not "
                                f"be recorded: {ResourceError.of(exc)}; the next command records the attempt as "
                                "interrupted") from None

    def record_refusal(self, version: str, problem: BayatError, started: float) -> Entry:
        """A deployment that could not begin (the registry is down, the version was never published): it is
        an attempt too, and the record says so."""
        entry = self.entry("deploy", version, "failed", started, reason=f"{problem}; nothing was changed")
        try:
            return self.record.finish(None, entry)
        except OSError as exc:
            raise ResourceError(f"{problem}; and the attempt could not be recorded: {ResourceError.of(exc)}") \
                from None

    # ------------------------------------------------------------------ database
    def _database_command(self, template: str | None, backup: str = "") -> None:
        if not template:
            return
        from bayat_deploy.tools import shell

        command = template.replace("{backup}", backup)
        proc = shell(command, cwd=self.session.root, env=self.session.context.tool_env(
            BAYAT_ENVIRONMENT=self.environment), timeout=self.session.policy.database.timeout.seconds)
        if proc.returncode != 0:
            raise BayatError(f"database command failed (exit {proc.returncode}): {command}")

    def database_backup(self, release: Release) -> str:
        database = self.session.policy.database
        if not database.backup:
            return ""
        path = self.target.state_dir / "backups" / f"before-{release.version}-{int(time.time())}.backup"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.say(f"database backup -> {path}")
        self._database_command(database.backup, str(path))
        return str(path)

    def database_migrate(self) -> None:
        if self.session.policy.database.migrate:
            self.say("database migration")
            self._database_command(self.session.policy.database.migrate)

    def database_restore(self, backup: str) -> None:
        if backup and self.session.policy.database.restore:
            self.say(f"database restore <- {backup}")
            self._database_command(self.session.policy.database.restore, backup)


def _older(version: str, than: str) -> bool:
    from bayat_deploy.versioning.versions import parse

    try:
        return parse(version) < parse(than)
    except ValueError:  # a development image's version: no order to protect
        return False
