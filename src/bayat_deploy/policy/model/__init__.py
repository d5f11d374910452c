"""The typed policy model. Import from here; the sub-modules group it by concern."""

from bayat_deploy.policy.model.credentials import Aws, Azure, Credentials, Gcp
from bayat_deploy.policy.model.environment import (CHECKS, STANDARD_CHECKS, TIERS, Analysis, ApprovalRule,
                                                   Approvals, ChangeTicket, DeployFrom, Emergency, Environment,
                                                   Expect, Latency, Maintenance, MaintenanceWindow, Monitoring,
                                                   Rollback, RollbackTriggers, SmokeTest, Verify)
from bayat_deploy.policy.model.operations import (Cohort, Compliance, Database, FeatureFlagSettings, Flag,
                                                  FlagState, FlagStore, MetricsProvider, Notifications, Route,
                                                  SecuritySignoff, Smtp)
from bayat_deploy.policy.model.policy import Policy
from bayat_deploy.policy.model.stages import (SECTIONS, Build, Command, Config, ConfigKey, ConfigService,
                                              DockerImage, HelmChart, NpmPackage, OsPackage, Performance,
                                              PythonPackage, Registry, ReleaseNotes, Retention, Scan, Signing,
                                              TerraformModule, Tests, TestSuite, Versioning)
from bayat_deploy.policy.model.strategies import (BlueGreen, Canary, CanaryStep, FeatureFlags,
                                                  Rolling)
from bayat_deploy.policy.model.targets import (Ansible, DockerHost, GitOps, Kubernetes, Resources,
                                               ResourceQuota, Serverless, Terraform)

__all__ = [name for name in dir() if not name.startswith("_")]
