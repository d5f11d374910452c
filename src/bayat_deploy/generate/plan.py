"""The pipeline, platform-neutral: what has to happen, in which order, behind which gate.

Both renderers (GitHub Actions, GitLab CI) turn the same plan into their own YAML, so a gate can be
missing on one platform only through a template bug — which the parity test looks for.
"""

from __future__ import annotations

from dataclasses import dataclass

from bayat_deploy.generate.secrets_used import app_secrets
from bayat_deploy.policy.model import Credentials, DockerImage, Environment, Policy


@dataclass(frozen=True)
class Approval:
    """One party of an environment's approval gate (e.g. QA, then the product owner)."""

    rule: str
    description: str
    groups: tuple[str, ...]
    users: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class EnvironmentPlan:
    name: str
    tier: str
    url: str | None
    after: str | None  # the environment a version must have passed first
    approvals: tuple[Approval, ...]
    prevent_self_review: bool
    wait_timer_minutes: int
    change_ticket: bool
    change_ticket_pattern: str
    window: bool  # deployments must fall in a maintenance window
    window_text: str
    emergency: bool
    emergency_approvers: tuple[str, ...]
    performance: bool  # a performance test runs right after the deployment
    monitor: bool  # watch metrics after the deployment (the policy names a metrics provider)
    monitor_for: str
    strategy: str
    branches: tuple[str, ...]
    tags: tuple[str, ...]
    regulated: bool  # write the compliance evidence bundle
    runner_labels: tuple[str, ...] = ("ubuntu-latest",)  # GitHub runs-on of the deploy, verify, rollback jobs
    runner_group: str | None = None
    runner_tags: tuple[str, ...] = ()  # GitLab runner tags of the same jobs
    credentials: Credentials = Credentials()  # how those jobs reach the target
    app_secrets: tuple[str, ...] = ()  # CI secrets the application's instances get (target.env: env:NAME)
    announce: bool = False  # its maintenance windows are announced beforehand (a scheduled job)

    @property
    def oidc(self) -> bool:
        """The jobs log in to a cloud with the platform's OIDC token (GitHub `id-token: write`, GitLab `id_tokens`)."""
        return self.credentials.oidc

    @property
    def target_secrets(self) -> list[str]:
        """Secrets the deploy, verify and rollback steps read to reach the target."""
        return [self.credentials.kubeconfig] if self.credentials.kubeconfig else []

    @property
    def job_secrets(self) -> list[str]:
        """Every secret the deploy, verify and rollback steps read: the target's access and the application's."""
        return sorted(set(self.target_secrets) | set(self.app_secrets))

    @property
    def deploy_sequence(self) -> tuple[str, ...]:
        """The steps the deploy job asks `bayat-deploy deploy` for around the deployment (stages/deploy_sequence.py),
        as the flag and input names both platforms use; the change ticket, whose value is platform-specific,
        is added by the templates when `change_ticket` is set."""
        steps = (["record-approvals"] if self.approvals else []) + ["gate", "notify"]
        return tuple(steps + (["evidence-bundle"] if self.regulated else []))

    @property
    def job(self) -> str:
        return self.name

    @property
    def automatic(self) -> bool:
        return not self.approvals

    @property
    def chained(self) -> tuple[Approval, ...]:
        """Parties approved in their own environments before the deploy job's own (GitHub has one
        reviewer list per environment, so multi-party approval is a chain of environments)."""
        return self.approvals[:-1]

    @property
    def final(self) -> Approval | None:
        return self.approvals[-1] if self.approvals else None

    @property
    def runner(self) -> tuple[tuple[str, ...], str | None]:
        return self.runner_labels, self.runner_group

    # The job graph, the same on both platforms: where an environment starts from, then (GitHub, which has
    # one reviewer list per environment) the chain of approval jobs, then the window, then the deployment.
    @property
    def starts_after(self) -> str:
        """The job whose success (and evidence) the environment's jobs start from: the verification of the
        environment a version must pass first, or publishing."""
        return f"verify-{self.after}" if self.after else "publish"

    @property
    def approval_chain(self) -> tuple[tuple[str, Approval, str], ...]:
        """(job, party, the job it waits for) for each party approved before the deploy job's own."""
        chain, waits_for = [], self.starts_after
        for party in self.chained:
            job = f"approve-{self.name}-{party.rule}"
            chain.append((job, party, waits_for))
            waits_for = job
        return tuple(chain)

    @property
    def gate_jobs(self) -> tuple[str, ...]:
        """What the deploy job's own approval follows: where the environment starts from and every chained party."""
        return (self.starts_after, *(job for job, _, _ in self.approval_chain))

    @property
    def window_jobs(self) -> tuple[str, ...]:
        """The window check and, beside it, the emergency path: the deploy job needs one of them to pass."""
        if not self.window:
            return ()
        return (f"window-{self.name}", *([f"emergency-{self.name}"] if self.emergency else []))

    @property
    def deploy_needs(self) -> tuple[str, ...]:
        return ("version", *self.gate_jobs, *self.window_jobs)


@dataclass(frozen=True)
class PipelinePlan:
    project: str
    policy_path: str
    environments: tuple[EnvironmentPlan, ...]
    images: tuple[str, ...]
    branches: tuple[str, ...]
    tags: tuple[str, ...]
    release_branches: tuple[str, ...]
    evidence_dir: str
    # a library: no environments are deployed; publishing waits for this environment's approval and gate
    release_environment: EnvironmentPlan | None = None

    @property
    def library(self) -> bool:
        return self.release_environment is not None

    @property
    def announced(self) -> tuple[EnvironmentPlan, ...]:
        """The environments whose maintenance windows a scheduled job announces."""
        return tuple(env for env in self.environments if env.announce)

    @property
    def workflow_name(self) -> str:
        return "release" if self.library else "deploy"

    def environment(self, name: str) -> EnvironmentPlan:
        return next(e for e in self.environments if e.name == name)

    @property
    def reports_dir(self) -> str:
        return ".bayat/reports"

    @property
    def shared_runner(self) -> EnvironmentPlan | None:
        """An environment whose runner and credentials every environment uses (the manual rollback is then one job), else
        None (one rollback job per environment, each on its environment's runner)."""
        runners = {(env.runner, env.credentials) for env in self.environments}
        return self.environments[0] if len(runners) == 1 and self.environments else None

    @property
    def artifact_root(self) -> str:
        """Where evidence artifacts unpack: upload-artifact stores files relative to the least common
        ancestor of its search paths, so downloading to that same folder puts every file back."""
        import os.path

        return os.path.commonpath([self.evidence_dir, self.reports_dir]) or "."


def _window_text(env: Environment) -> str:
    parts = [f"{w.cron} for {w.duration} ({w.timezone})" + (f", every {w.every_weeks} weeks" if w.every_weeks > 1
                                                          else "") for w in env.maintenance.windows]
    return "; ".join(parts)


def _environment(policy: Policy, name: str, env: Environment) -> EnvironmentPlan:
    approvals = tuple(Approval(r.name, r.description or r.name, r.groups, r.users, r.count)
                      for r in env.approvals.rules)
    return EnvironmentPlan(
        name=name, tier=env.tier, url=str(env.url) if env.url else None, after=env.promote_from,
        approvals=approvals, prevent_self_review=env.approvals.prevent_self_review,
        wait_timer_minutes=int(env.approvals.wait_timer.seconds // 60),
        change_ticket=env.change_ticket.required, change_ticket_pattern=env.change_ticket.pattern.text,
        window=env.maintenance.enforce and bool(env.maintenance.windows), window_text=_window_text(env),
        emergency=env.maintenance.enforce and env.maintenance.emergency.allowed,
        emergency_approvers=env.maintenance.emergency.approvers,
        performance=name in policy.tests.performance.environments,
        monitor=policy.monitoring is not None and env.monitoring.duration.seconds > 0,
        monitor_for=str(env.monitoring.duration), strategy=env.strategy.type,
        branches=env.deploy_from.branches, tags=env.deploy_from.tags,
        regulated=policy.compliance.regulated or env.tier == "production",
        runner_labels=env.runner.labels, runner_group=env.runner.group, runner_tags=env.runner.tags,
        credentials=env.credentials, app_secrets=tuple(app_secrets(env)),
        announce=env.maintenance.announce and bool(env.maintenance.windows),
    )


def build_plan(policy: Policy, policy_path: str = ".bayat/deploy.yml") -> PipelinePlan:
    environments = tuple(_environment(policy, name, env) for name, env in policy.environments.items())
    branches = tuple(dict.fromkeys(b for e in environments for b in e.branches))
    tags = tuple(dict.fromkeys(t for e in environments for t in e.tags))
    release_environment = None
    if policy.kind == "library":  # the registry is the library's production: its approval gates publishing
        release_environment = next(e for e in reversed(environments) if e.tier == "production")
        environments = ()
    return PipelinePlan(
        project=policy.project, policy_path=policy_path, environments=environments,
        release_environment=release_environment,
        images=tuple(a.name or policy.project for a in policy.artifacts if isinstance(a, DockerImage)),
        branches=branches, tags=tags, release_branches=policy.versioning.release_branches,
        evidence_dir=policy.evidence_dir,
    )
