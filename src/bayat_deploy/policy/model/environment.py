"""An environment of the standard: who may deploy, how, when, and how a bad release is undone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bayat_deploy.policy.model.credentials import Credentials
from bayat_deploy.policy.model.fields import (REF_HINT, REF_PATTERN, RUNNER_LABEL, RUNNER_LABEL_HINT, URL_PATH,
                                              URL_PATH_HINT, f)
from bayat_deploy.policy.model.strategies import Rolling, Strategy
from bayat_deploy.policy.model.targets import Resources, Target
from bayat_deploy.policy.types import CronSchedule, Duration, IsoDate, Pattern, Percent, Severity, TimeZone, Url

TIERS = ("development", "testing", "staging", "production")
CHECKS = ("tests", "security-scan", "infrastructure", "approvals", "release-notes", "change-ticket",
          "performance", "security-signoff", "config")
# The standard's "Required Checks": every deployment passes these five.
STANDARD_CHECKS = ("tests", "security-scan", "infrastructure", "approvals", "release-notes")


@dataclass(frozen=True, kw_only=True)
class DeployFrom:
    """Git refs allowed to deploy to the environment (GitHub deployment branch policies, GitLab protected refs)."""

    branches: tuple[str, ...] = f("Branch name patterns.", ("main",), pattern=REF_PATTERN, pattern_hint=REF_HINT)
    tags: tuple[str, ...] = f("Tag name patterns.", (), pattern=REF_PATTERN, pattern_hint=REF_HINT)


@dataclass(frozen=True, kw_only=True)
class ApprovalRule:
    """One party that must approve, e.g. QA; several rules make a multi-party approval."""

    name: str = f("Short name (qa, product-owner, management).", pattern=r"^[a-z0-9][a-z0-9-]*$",
                   pattern_hint="lower-case letters, digits and dashes")
    description: str = f("Who this is, in the standard's words.", "")
    groups: tuple[str, ...] = f("Teams / groups whose members may approve.", ())
    users: tuple[str, ...] = f("Individual users who may approve.", ())
    count: int = f("Approvals needed from this party.", 1, minimum=1, maximum=10)


@dataclass(frozen=True, kw_only=True)
class Approvals:
    """Approval gate of an environment (standard: Approval Gates)."""

    rules: tuple[ApprovalRule, ...] = f("Parties that must approve; all rules must be satisfied.", ())
    prevent_self_review: bool = f("The person who triggered the deployment cannot approve it.", True)
    wait_timer: Duration = f("Delay after approval before the deployment starts.", Duration(0))


@dataclass(frozen=True, kw_only=True)
class ChangeTicket:
    """Change-management reference a deployment must carry (standard: Production, change management)."""

    required: bool = f("A change ticket is needed to deploy.", False)
    pattern: Pattern = f("What a ticket reference looks like.", Pattern(r"^[A-Z][A-Z0-9]+-\d+$"))
    system: str = f("Change-management system name shown in reports.", "Jira")


@dataclass(frozen=True, kw_only=True)
class MaintenanceWindow:
    """A recurring window: starts at a cron time in a time zone and lasts a duration."""

    cron: CronSchedule = f("When the window opens (local time in `timezone`).")
    duration: Duration = f("How long it stays open.")
    timezone: TimeZone = f("Time zone of the cron start.", TimeZone("UTC"))
    every_weeks: int = f("Open only every N-th week (2 = bi-weekly), counted from `anchor`.", 1,
                         minimum=1, maximum=52)
    anchor: IsoDate | None = f("A date in a week in which the window opens (needed when every_weeks > 1).", None)
    description: str = f("Shown in announcements.", "")


@dataclass(frozen=True, kw_only=True)
class Emergency:
    """The emergency path outside windows (standard: Emergency Maintenance)."""

    allowed: bool = f("Emergency deployments outside the window are possible.", True)
    approvers: tuple[str, ...] = f("Groups / users who may approve an emergency deployment.", ())


@dataclass(frozen=True, kw_only=True)
class Maintenance:
    """Maintenance windows (standard: Maintenance Windows)."""

    windows: tuple[MaintenanceWindow, ...] = f("Recurring windows.", ())
    enforce: bool = f("Deployments outside a window fail the gate (unless emergency).", False)
    announce: bool = f("Announce each window to the notification routes beforehand.", False)
    announce_before: Duration = f("How long before a window the announcement goes out.", Duration(86400))
    emergency: Emergency = f("Emergency path.", Emergency())


@dataclass(frozen=True, kw_only=True)
class Latency:
    """A latency SLA: the given percentile must stay under `max`."""

    percentile: int = f("Percentile.", 95, minimum=50, maximum=100)
    max: Duration = f("Highest allowed latency.", Duration(0.5))


@dataclass(frozen=True, kw_only=True)
class RollbackTriggers:
    """When to roll back (standard: Rollback Triggers)."""

    error_rate: Percent | None = f("Roll back when the error rate exceeds this.", Percent(5))
    latency: Latency | None = f("Roll back when latency exceeds the SLA.", Latency())
    smoke_test_failed: bool = f("Roll back when a critical smoke test fails (critical functionality unavailable).",
                                True)
    vulnerability: Severity | None = f("Roll back when `bayat-deploy rescan` (a later scan, with a newer database) "
                                       "finds a vulnerability at or above this severity in the image serving "
                                       "the environment; null turns the trigger off.", Severity("CRITICAL"))


@dataclass(frozen=True, kw_only=True)
class Rollback:
    """Rollback plan (standard: Rollback Procedures)."""

    automatic: bool = f("Roll back automatically when a trigger fires.", True)
    triggers: RollbackTriggers = f("Triggers.", RollbackTriggers())
    max_duration: Duration = f("Rollback time objective; drills fail when slower.", Duration(120))
    restore_database: bool = f("Restore the pre-deploy database backup on rollback.", False)


@dataclass(frozen=True, kw_only=True)
class Expect:
    """What a smoke test's response must look like."""

    status: tuple[int, ...] = f("Acceptable HTTP status codes.", (200,))
    body: Pattern | None = f("Regular expression the body must match.", None)
    json: dict[str, str | int | float | bool] = f(
        "Dotted JSON paths and expected values; '{version}' is the deployed version.", {})
    max_latency: Duration | None = f("Slowest acceptable response.", None)


@dataclass(frozen=True, kw_only=True)
class SmokeTest:
    """An HTTP check run right after deployment (standard: Smoke Tests)."""

    name: str = f("Name shown in reports.", pattern=r"^[a-z0-9][a-z0-9_-]*$",
                   pattern_hint="lower-case letters, digits, dashes and underscores")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = f("HTTP method.", "GET")
    path: str = f("Path on the environment URL.", "/", pattern=URL_PATH, pattern_hint=URL_PATH_HINT)
    headers: dict[str, str] = f("Request headers.", {})
    body: str | None = f("Request body.", None, multiline=True)
    expect: Expect = f("Expected response.", Expect())
    critical: bool = f("A failure means critical functionality is unavailable (a rollback trigger).", True)


@dataclass(frozen=True, kw_only=True)
class Verify:
    """Post-deployment verification (standard: Post-Deployment Verification)."""

    smoke_tests: tuple[SmokeTest, ...] = f("Smoke tests.", ())
    version_path: str | None = f("Endpoint whose JSON `version` must equal the deployed version.", "/version",
                                 pattern=URL_PATH, pattern_hint=URL_PATH_HINT)
    metrics_path: str | None = f("Metrics endpoint that must answer (metrics are working).", "/metrics",
                                 pattern=URL_PATH, pattern_hint=URL_PATH_HINT)
    retries: int = f("Attempts per smoke test.", 3, minimum=1, maximum=20)
    retry_delay: Duration = f("Pause between attempts.", Duration(2))
    deadline: Duration = f("All verification must finish within this.", Duration(120))
    parallel: int = f("Smoke tests run at once.", 4, minimum=1, maximum=64)

    @property
    def health_path(self) -> str:
        """What a platform's own health check requests (a load balancer's, Lambda's): the path of the smoke test
        named for health, else /health."""
        return next((test.path for test in self.smoke_tests if "health" in test.name), "/health")


@dataclass(frozen=True, kw_only=True)
class Analysis:
    """Canary analysis: baseline vs canary from real metrics."""

    interval: Duration = f("Length of one analysis interval.", Duration(60))
    confidence: float = f("Confidence of the statistical comparison (Mann-Whitney U).", 0.95,
                          minimum=0.5, maximum=0.999)
    min_samples: int = f("Fewer samples than this is 'too little data'.", 10, minimum=3)
    on_no_data: Literal["fail", "pause", "pass"] = f("Outcome when a metric has no or too little data.", "fail")
    max_inconclusive: int = f("Inconclusive intervals tolerated before the step fails.", 2, minimum=0)
    window: Duration | None = f(
        "Rate window of each sample ({interval} in the queries): twice the scrape interval is best, as samples "
        "are taken every half window; `interval` must give `min_samples` of them (default: the longest window "
        "that does).", None)
    error_rate_tolerance: Percent = f(
        "Percentage points the canary's error rate may exceed the baseline's before a significant difference "
        "fails it.", Percent(1))
    latency_tolerance: Percent = f(
        "Share by which the canary's latency may exceed the baseline's before a significant difference fails it.",
        Percent(20))
    latency_min_change: Duration = f(
        "Latency differences smaller than this never fail the comparison (below the histogram's resolution).",
        Duration(0.005))
    traffic_filter: str = f(
        "PromQL label matchers added to {selector}: requests that are not user traffic (scrapes, health probes) "
        "would dilute the error rate and make an idle canary look busy and healthy. Empty: count every request.",
        'path!~"/metrics|/health"')


@dataclass(frozen=True, kw_only=True)
class Monitoring:
    """Post-deployment monitoring (standard: Monitoring and Alerting)."""

    queries: dict[str, str] = f(
        "Extra queries compared before/after the deploy, e.g. business metrics; {job} and {interval} are filled in.",
        {}, multiline=True)
    duration: Duration = f("How long `bayat-deploy monitor` watches by default.", Duration(900))
    warning_change: Percent = f("Relative worsening of a metric that raises a warning.", Percent(20))
    critical_change: Percent = f("Relative worsening that raises a critical alert.", Percent(50))


@dataclass(frozen=True, kw_only=True)
class Runner:
    """Which CI runners run the environment's deploy, verify and rollback jobs (the other jobs stay on the
    platform's hosted runners). A docker-host target needs its jobs on the host: by default they go to a
    self-hosted runner labelled with the environment's name (GitHub `runs-on: [self-hosted, <env>]`,
    GitLab `tags: [<env>]`)."""

    labels: tuple[str, ...] | None = f(
        "GitHub `runs-on` labels; default: ubuntu-latest, or [self-hosted, <environment>] for a docker-host target.",
        None, min_items=1, pattern=RUNNER_LABEL, pattern_hint=RUNNER_LABEL_HINT)
    group: str | None = f("GitHub runner group (with or without labels).", None, pattern=RUNNER_LABEL,
                          pattern_hint=RUNNER_LABEL_HINT)
    tags: tuple[str, ...] | None = f(
        "GitLab runner tags; default: none (shared runners), or [<environment>] for a docker-host target.",
        None, pattern=RUNNER_LABEL, pattern_hint=RUNNER_LABEL_HINT)

    def persistent_on(self, platform: str) -> bool:
        """Whether the jobs run on the user's own runners, whose disk outlives a job (GitHub: `self-hosted`
        label or a runner group; GitLab: tags other than GitLab's `saas-*` hosted-runner sizes)."""
        if platform == "github":
            return "self-hosted" in (self.labels or ()) or bool(self.group)
        if platform == "gitlab":
            return any(not tag.startswith("saas-") for tag in self.tags or ())
        return True  # a laptop


@dataclass(frozen=True, kw_only=True)
class Environment:
    """One environment: the standard's table row plus how deployments to it are gated, run and undone."""

    tier: Literal[TIERS] = f("Which of the standard's environments this is.")
    purpose: str = f("What the environment is for.", "")
    access: str = f("Who has access.", "")
    frequency: Literal["continuous", "after-approval", "scheduled"] = f("Deployment frequency.", "continuous")
    data: Literal["fake", "sanitized", "production-like", "real"] = f("Data sensitivity.", "fake")
    url: Url | None = f("URL the environment serves (shown in the pipeline).", None)
    promote_from: str | None = f("Environment a version must pass before this one.", None)
    deploy_from: DeployFrom = f("Refs allowed to deploy.", DeployFrom())
    approvals: Approvals = f("Approval gate.", Approvals())
    change_ticket: ChangeTicket = f("Change-ticket requirement.", ChangeTicket())
    checks: tuple[Literal[CHECKS], ...] = f("Required checks the gate enforces.", STANDARD_CHECKS, unique=True)
    strategy: Strategy = f("Deployment strategy.", Rolling(type="rolling"))
    maintenance: Maintenance = f("Maintenance windows.", Maintenance())
    rollback: Rollback = f("Rollback plan.", Rollback())
    verify: Verify = f("Post-deployment verification.", Verify())
    analysis: Analysis = f("Canary analysis.", Analysis())
    monitoring: Monitoring = f("Post-deployment monitoring.", Monitoring())
    notify: tuple[str, ...] | None = f("Notification routes for this environment (default: every route).", None)
    resources: Resources = f("Scale (may differ between environments).", Resources())
    target: Target | None = f("Per-environment target settings; merged over the top-level target.", None)
    runner: Runner = f("Runners for the deploy, verify and rollback jobs.", Runner())
    credentials: Credentials = f("How the deploy, verify and rollback jobs reach the target.", Credentials())
    parity_exception: str | None = f(
        "Why this environment deploys differently (needed when its target type differs).", None)
