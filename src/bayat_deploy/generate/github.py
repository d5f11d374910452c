"""GitHub Actions: the policy's pipeline as `.github/workflows/deploy.yml`, `rollback.yml` and
`pull-request.yml` (build, test and scan of every pull request; nothing published or deployed).

How the standard maps onto GitHub:
- each environment is a job with `environment:` (name and URL); its approval rule's reviewers are that
  GitHub environment's required reviewers (`bayat-deploy environments sync` creates them);
- a multi-party approval (staging: QA, then the product owner) is a chain: one job per earlier party,
  each in its own environment (`staging-qa`), before the deploy job's own environment;
- the required-checks gate runs in the deploy job, after the approvals were given and before anything
  changes; production also needs the maintenance-window job, or the emergency job with its own approval;
- `concurrency:` per environment queues deployments and never cancels one that runs;
- every job starts from `permissions: {}` plus what it needs; third-party actions are pinned by SHA.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bayat_deploy.generate.plan import PipelinePlan
from bayat_deploy.generate.secrets_used import notification_secrets, registry_secrets


@dataclass(frozen=True)
class Pin:
    repository: str
    sha: str
    version: str

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.sha}"


PINS = {
    "checkout": Pin("actions/checkout", "11bd71901bbe5b1630ceea73d27597364c9af683", "v4.2.2"),
    "upload": Pin("actions/upload-artifact", "ea165f8d65b6e75b540449e92b4886f43607fa02", "v4.6.2"),
    "download": Pin("actions/download-artifact", "d3f86a106a0bac45b974a628896c90dbdf5c8093", "v4.3.0"),
    "aws": Pin("aws-actions/configure-aws-credentials", "e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "gcp": Pin("google-github-actions/auth", "7c6bc770dae815cd3e89ee6cdf493a5fab2cc093", "v3.0.0"),
    "azure": Pin("Azure/login", "f5d393ae46f8fde4be8b75f32e3fc50e654ad0ca", "v3.0.1"),
}
WORKFLOWS = ".github/workflows"


def render(plan: PipelinePlan, policy, *, action: str = "bayat/deploy-action", ref: str = "v1",
           runner: str = "ubuntu-latest", workflow_prefix: str = "") -> dict[str, str]:
    """Every file the GitHub pipeline consists of: path -> content."""
    from bayat_deploy.generate.templates import render as render_template

    context = dict(plan=plan, pins=PINS, action=action, ref=ref, runner=runner,
                   registry_secrets=registry_secrets(policy), notification_secrets=notification_secrets(policy),
                   environment_names=[e.name for e in plan.environments])
    files = {f"{WORKFLOWS}/{workflow_prefix}deploy.yml": render_template("github/deploy.yml.j2", **context)}
    if not plan.library:  # a published package is never rolled back: a fixed version supersedes it
        files[f"{WORKFLOWS}/{workflow_prefix}rollback.yml"] = render_template("github/rollback.yml.j2", **context)
    files[f"{WORKFLOWS}/{workflow_prefix}pull-request.yml"] = render_template("github/pull-request.yml.j2", **context)
    if plan.announced:
        files[f"{WORKFLOWS}/{workflow_prefix}maintenance.yml"] = render_template("github/maintenance.yml.j2", **context)
    labels = custom_runner_labels(plan)
    if labels:
        files[".github/actionlint.yaml"] = render_template("github/actionlint.yaml.j2", labels=labels)
    if not _is_sha(ref):  # a tag-pinned first-party action: tell zizmor that this is on purpose
        files[".github/zizmor.yml"] = render_template("github/zizmor.yml.j2", **context)
    return files


# GitHub-hosted runner labels actionlint knows; any other label names a self-hosted runner.
_HOSTED = re.compile(r"(ubuntu|windows|macos|xcode)(-.*)?|self-hosted|x64|arm|arm64|linux|macos|windows")


def custom_runner_labels(plan: PipelinePlan) -> list[str]:
    labels = (label for env in plan.environments for label in env.runner_labels)
    return sorted({label for label in labels if not _HOSTED.fullmatch(label)})


def _is_sha(ref: str) -> bool:
    return len(ref) == 40 and all(c in "0123456789abcdef" for c in ref)


def approval_environment(environment: str, rule: str) -> str:
    """The GitHub environment that holds one earlier party of a multi-party approval."""
    return f"{environment}-{rule}"
