"""Running the service: metrics, notifications, feature flags, database changes, compliance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bayat_deploy.policy.model.fields import f
from bayat_deploy.policy.types import Duration, Percent, SecretRef, Url

EVENTS = ("deploy-started", "deploy-succeeded", "deploy-failed", "rollback", "maintenance", "alert",
          "release-notes")
LEVELS = ("info", "warning", "critical")


@dataclass(frozen=True, kw_only=True)
class MetricsProvider:
    """Where metrics are queried (Prometheus HTTP API)."""

    type: Literal["prometheus"] = f("Provider type.", "prometheus")
    url: Url = f("Base URL of the Prometheus HTTP API.", Url("http://127.0.0.1:9090"))
    token: SecretRef | None = f("Bearer token reference.", None)
    job: str = f("Value of the `job` label the service is scraped under; {environment} is substituted.",
                 "{project}-{environment}")
    error_rate: str = f(
        "PromQL for the error ratio of one track (a Python format string: literal braces doubled); {selector} "
        "and {interval} are filled in. `or vector(0)`: a service that never failed has no 5xx series, which "
        "means no errors, not no data.",
        '(sum(rate(http_requests_total{{{selector},status=~"5.."}}[{interval}])) or vector(0))'
        ' / sum(rate(http_requests_total{{{selector}}}[{interval}]))', multiline=True)
    latency: str = f(
        "PromQL for a latency percentile in seconds; {quantile}, {selector} and {interval} are filled in.",
        "histogram_quantile({quantile}, sum by (le) (rate(http_request_duration_seconds_bucket{{{selector}}}"
        "[{interval}])))", multiline=True)
    cpu: str = f("PromQL for CPU use.", "sum(rate(process_cpu_seconds_total{{{selector}}}[{interval}]))",
                 multiline=True)
    memory: str = f("PromQL for memory use.", "sum(process_resident_memory_bytes{{{selector}}})", multiline=True)


@dataclass(frozen=True, kw_only=True)
class Smtp:
    """SMTP server for e-mail routes."""

    host: str = f("SMTP host.")
    port: int = f("SMTP port.", 587, minimum=1, maximum=65535)
    sender: str = f("From address.", pattern=r"^[^@\s]+@[^@\s]+$", pattern_hint="an e-mail address")
    username: SecretRef | None = f("User name reference.", None)
    password: SecretRef | None = f("Password reference.", None)
    starttls: bool = f("Upgrade with STARTTLS.", True)


@dataclass(frozen=True, kw_only=True)
class Route:
    """Where notifications and alerts go."""

    name: str = f("Route name (referenced by environments' `notify`).", pattern=r"^[a-z0-9][a-z0-9-]*$",
                   pattern_hint="lower-case letters, digits and dashes")
    type: Literal["webhook", "slack", "teams", "email"] = f("Payload format.")
    url: SecretRef | Url | None = f("Webhook URL, usually a secret reference (env:SLACK_WEBHOOK_URL).", None)
    to: tuple[str, ...] = f("Recipients (email routes).", ())
    smtp: Smtp | None = f("SMTP server (email routes).", None)
    events: tuple[Literal[EVENTS], ...] = f("Events sent on this route.", EVENTS, unique=True)
    min_level: Literal[LEVELS] = f("Lowest alert level sent on this route.", "info")


@dataclass(frozen=True, kw_only=True)
class Notifications:
    """Notification routes (standard: communicate to stakeholders; alert the right teams)."""

    routes: tuple[Route, ...] = f("Routes.", ())
    aggregate_window: Duration = f("Alerts of one incident within this window are sent as one.", Duration(300))


@dataclass(frozen=True, kw_only=True)
class Cohort:
    """A group of users for progressive exposure."""

    users: tuple[str, ...] = f("User ids in the cohort.", ())
    groups: tuple[str, ...] = f("Groups in the cohort.", ())
    percent: Percent | None = f("Or: this share of all users (stable hashing).", None)


@dataclass(frozen=True, kw_only=True)
class FlagState:
    """A flag's state in one environment."""

    enabled: bool = f("Flag on at all.", False)
    cohorts: tuple[str, ...] = f("Cohorts that see the feature.", ())
    percent: Percent = f("Share of all users that see the feature.", Percent(0))


@dataclass(frozen=True, kw_only=True)
class Flag:
    """A feature flag."""

    description: str = f("What the flag guards.", "")
    environments: dict[str, FlagState] = f("State per environment.", {})


@dataclass(frozen=True, kw_only=True)
class FlagStore:
    """Where flag state is kept: a JSON file the application reads, or an HTTP service."""

    type: Literal["file", "http"] = f("Store type.", "file")
    path: str = f("File path (type file); {environment} is substituted.", ".bayat/flags/{environment}.json")
    url: Url | None = f("Service URL (type http).", None)
    token: SecretRef | None = f("Bearer token reference (type http).", None)


@dataclass(frozen=True, kw_only=True)
class FeatureFlagSettings:
    """Feature flags (standard: Feature Flags, Progressive Exposure)."""

    store: FlagStore = f("Where flag state lives.", FlagStore())
    cohorts: dict[str, Cohort] = f("Cohorts for progressive exposure; `everyone` is built in.", {})
    flags: dict[str, Flag] = f("Flags.", {})


@dataclass(frozen=True, kw_only=True)
class Database:
    """Database changes around a deploy (standard: restore database if necessary)."""

    migrate: str | None = f("Migration command, run after the backup and before traffic moves.", None,
                            multiline=True)
    backup: str | None = f("Backup command; {backup} is the file to write.", None, multiline=True)
    restore: str | None = f("Restore command; {backup} is the file to read.", None, multiline=True)
    timeout: Duration = f("Time limit for each command.", Duration(900))


@dataclass(frozen=True, kw_only=True)
class SecuritySignoff:
    """Security sign-off for regulated projects (standard: Compliance Verification)."""

    groups: tuple[str, ...] = f("Groups that sign off.", ("security",))
    users: tuple[str, ...] = f("Users that sign off.", ())


@dataclass(frozen=True, kw_only=True)
class Compliance:
    """Compliance settings."""

    regulated: bool = f("Regulated project: production needs a security sign-off and an evidence bundle.", False)
    security_signoff: SecuritySignoff = f("Who signs off.", SecuritySignoff())
