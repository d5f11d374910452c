"""A deployment, start to finish: lock, back up, migrate, roll out, verify, roll back if needed, record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bayat_deploy import evidence
from bayat_deploy.deploy import smoke
from bayat_deploy.deploy.record import Entry, Record
from bayat_deploy.deploy.strategies import Hooks, Outcome, Verdict, strategy_for
from bayat_deploy.deploy.targets import Target, target_for
from bayat_deploy.deploy.targets.base import Release
from bayat_deploy.errors import BayatError


@dataclass
class Deployment:
    """One environment's deployment machinery, shared by deploy, verify, rollback, promote and abort."""

    session: object
    environment: str
    target: Target = field(init=False)
    record: Record = field(init=False)

    def __post_init__(self):
        self.env = self.session.policy.environment(self.environment)
        self.target = target_for(self.session, self.environment)
        self.record = Record(self.target.store, on_append=self._audit)

    def _audit(self, entry: Entry) -> None:
        """Tell the CI platform's deployment history (GitHub Deployments) about a stored entry."""
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

    # ------------------------------------------------------------------ deploy
    def deploy(self, release: Release, lock_timeout: float = 600.0) -> tuple[Entry, Outcome]:
        started = time.time()
        holder = f"{self.session.context.actor or 'someone'} deploying {release.version}"
        with self.record.lock(holder, timeout=lock_timeout):
            previous = self.target.current().serving() or ""
            try:
                self.target.prepare()
                self.target.decommission_due()
                backup = self.database_backup(release)
                self.database_migrate()
            except BayatError as exc:
                entry = self.entry("deploy", release.version, "failed", started, image=release.image,
                                   digest=release.digest, config_hash=release.config_hash, previous_version=previous,
                                   reason=f"{exc}; nothing was rolled out")
                self.record.append(entry)
                self.say(f"deployment stopped before any change: {exc}")
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
            entry = self.entry("deploy", release.version, result, started, image=release.image,
                               digest=release.digest, config_hash=release.config_hash, previous_version=previous,
                               reason=reason, details={"steps": [s.__dict__ for s in outcome.steps],
                                                       "backup": backup})
            self.record.append(entry)
        return entry, outcome

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
