"""The deployment policy: one typed, immutable object built from `.bayat/deploy.yml` over the standard."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from bayat_deploy.errors import BadInput
from bayat_deploy.policy.model.environment import Environment
from bayat_deploy.policy.model.fields import BRANCH_HINT, BRANCH_PATTERN, RELATIVE_PATH, RELATIVE_PATH_HINT, f
from bayat_deploy.policy.model.operations import (Compliance, Database, FeatureFlagSettings, MetricsProvider,
                                                  Notifications)
from bayat_deploy.policy.model.stages import (Artifact, Build, Config, Registry, ReleaseNotes, Retention, Scan,
                                              Tests, Versioning)
from bayat_deploy.policy.model.targets import Target
from bayat_deploy.policy.types import Url

PROJECT = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"


@dataclass(frozen=True, kw_only=True)
class Policy:
    """Everything a pipeline needs to build, gate, deploy, verify and undo a release of one repository."""

    NESTED_KEYS: ClassVar[dict[str, type]] = {"defaults": Environment}

    project: str = f("Project name: lower-case letters, digits and dashes (used in names, namespaces, jobs).",
                     pattern=PROJECT, pattern_hint="lower-case letters, digits and dashes, e.g. my-service")
    description: str = f("One line about the service.", "")
    kind: Literal["service", "library"] = f(
        "What the repository delivers. `service`: releases deploy through the environments. `library`: the "
        "pipeline publishes the packages (PyPI, npm, Helm charts, Terraform modules) behind production's "
        "approval and required checks, then makes the release; nothing is deployed.", "service")
    team: str = f("Owning team; carried by every alert.", "")
    runbook: Url | None = f("Runbook link carried by every alert.", None)
    source: Url | None = f("Source repository URL (OCI label); default: from the CI environment or git.", None)
    default_branch: str = f("The repository's default branch: wherever the standard names `main` (the release "
                            "branch, the branches every environment deploys from), it means this branch.", "main",
                            pattern=BRANCH_PATTERN, pattern_hint=BRANCH_HINT)
    evidence_dir: str = f("Directory where stages write their evidence JSON.", ".bayat/evidence",
                          pattern=RELATIVE_PATH, pattern_hint=RELATIVE_PATH_HINT)
    versioning: Versioning = f("Versioning.", Versioning())
    artifacts: tuple[Artifact, ...] = f("Artifacts the build produces.", ())
    registries: dict[str, Registry] = f("Registries artifacts are published to, by name.", {})
    retention: Retention = f("Registry retention.", Retention())
    build: Build = f("Build stage.", Build())
    tests: Tests = f("Test stage.", Tests())
    scan: Scan = f("Scan stage.", Scan())
    release_notes: ReleaseNotes = f("Release notes.", ReleaseNotes())
    config: Config = f("Configuration management.", Config())
    target: Target = f("Deployment target shared by all environments (environment parity).")
    monitoring: MetricsProvider | None = f("Metrics provider for analysis and monitoring.", None)
    notifications: Notifications = f("Notification routes.", Notifications())
    feature_flags: FeatureFlagSettings = f("Feature flags.", FeatureFlagSettings())
    database: Database = f("Database migration, backup and restore.", Database())
    compliance: Compliance = f("Compliance.", Compliance())
    environments: dict[str, Environment] = f("Environments, in promotion order.", {})

    def environment(self, name: str) -> Environment:
        """The named environment, or a clear error listing the ones that exist."""
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(self.environments)
            raise BadInput(f"unknown environment {name!r}; this policy has: {known}") from None

    def substitute(self, text: str, environment: str | None = None, **extra: str) -> str:
        """Fill the {project} / {environment} placeholders the policy's strings may carry."""
        values = {"project": self.project, **extra}
        if environment is not None:
            values["environment"] = environment
        for key, value in values.items():
            text = text.replace("{" + key + "}", str(value))
        return text
