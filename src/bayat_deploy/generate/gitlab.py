"""GitLab CI: the policy's pipeline as `.gitlab-ci.yml`, from the same plan as the GitHub workflows.

How the standard maps onto GitLab:
- the stages are the standard's (build, test, scan, publish), then one deploy and one verify stage per
  environment in promotion order; `needs:` draws the graph and carries the evidence (every job uploads
  `.bayat/evidence/` and `.bayat/reports/`, so each job holds the evidence of everything before it);
- each environment's deploy job has `environment:` (name, url, deployment tier); where the policy wants
  approvals it is `when: manual` with `allow_failure: false`, and the protected environment's approval
  rules (`bayat-deploy environments sync --platform gitlab`, one GitLab rule per party) decide who may
  approve: the job only records who did and lets the required-checks gate judge it;
- `resource_group` per environment queues deployments; deploy jobs are never interruptible;
- where maintenance windows are enforced, `$CI_DEPLOY_FREEZE` (the freeze periods `environments sync`
  derives from the windows) keeps the environment out of the pipeline, the window job checks the window
  itself, and a pipeline run with `BAYAT_EMERGENCY=true` takes the emergency path instead: a manual job in
  its own protected environment (`<env>-emergency`) that records the approval and the reason;
- a failed deployment or verification starts the rollback job; a manual rollback job sits beside it;
- the published version gets its release tag and a GitLab release carrying the release notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bayat_deploy.generate.plan import EnvironmentPlan, PipelinePlan
from bayat_deploy.generate.secrets_used import notification_secrets, registry_secrets

PIPELINE_FILE = ".gitlab-ci.yml"
RUNNER_SETTINGS = ".gitlab/bayat-deploy.yml"  # the project's own image/tags/services, included when present
DEPLOYMENT_TIERS = ("production", "staging", "testing", "development")  # GitLab's, besides `other`
# The `release:` keyword's tool, pinned to a release (v0.24.0 carries glab 1.58, which GitLab 18 needs);
# a digest could not be read from here (no registry access), so the tag is the pin
RELEASE_IMAGE = "registry.gitlab.com/gitlab-org/release-cli:v0.24.0"
# The jobs' image when no bayat-deploy image is given: Python 3.12 and git, which the bootstrap needs
# (GitLab's own default image has neither); a CI/CD variable BAYAT_JOB_IMAGE replaces it
PIP_JOB_IMAGE = "python:3.12-bookworm"
PACKAGE = "bayat-deploy"


@dataclass(frozen=True)
class EnvironmentJobs:
    """One environment's jobs and the names that tie them together."""

    env: EnvironmentPlan
    previous: str  # the job whose success (and evidence) the environment starts from
    frozen: bool  # the environment leaves the pipeline while $CI_DEPLOY_FREEZE is set

    @property
    def name(self) -> str:
        return self.env.name

    @property
    def deploy_stage(self) -> str:
        return f"deploy-{self.name}"

    @property
    def verify_stage(self) -> str:
        return f"verify-{self.name}"

    @property
    def tier(self) -> str:
        return self.env.tier if self.env.tier in DEPLOYMENT_TIERS else "other"

    @property
    def url(self) -> str | None:
        url = self.env.url
        return url if url and re.match(r"https?://", url) else None

    @property
    def emergency_environment(self) -> str:
        return emergency_environment(self.name)

    @property
    def id_tokens(self) -> list[tuple[str, str]]:
        """The OIDC tokens the environment's target jobs ask GitLab for: (variable, audience)."""
        from bayat_deploy.deploy.access import AWS_AUDIENCE, AZURE_AUDIENCE, GITLAB_ID_TOKENS, gcp_audience

        creds = self.env.credentials
        tokens = []
        if creds.aws:
            tokens.append((GITLAB_ID_TOKENS["aws"], AWS_AUDIENCE))
        if creds.gcp:
            tokens.append((GITLAB_ID_TOKENS["gcp"], gcp_audience(creds.gcp.workload_identity_provider)))
        if creds.azure:
            tokens.append((GITLAB_ID_TOKENS["azure"], AZURE_AUDIENCE))
        return tokens

    @property
    def parties(self) -> str:
        """The approval parties in words: "QA approval, then Product owner sign-off"."""
        return ", then ".join(party.description for party in self.env.approvals)


def render(plan: PipelinePlan, policy, *, ref: str = "v1", package: str | None = None,
           image: str | None = None) -> dict[str, str]:
    """Every file the GitLab pipeline consists of: path -> content. With `image` (the bayat-deploy image,
    pinned by digest) the jobs run in it and install nothing; otherwise they install `package`."""
    from bayat_deploy.generate.templates import render as render_template

    context = dict(plan=plan, bootstrap=bootstrap_script(), image=image,
                   package="" if image and not package else package or package_spec(ref),
                   cache_key=cache_key(ref), environments=environment_jobs(plan), workflow_rules=workflow_rules(plan),
                   registry_secrets=registry_secrets(policy), notification_secrets=notification_secrets(policy),
                   runner_settings=RUNNER_SETTINGS, release_image=RELEASE_IMAGE, pip_job_image=PIP_JOB_IMAGE,
                   release_gate=EnvironmentJobs(plan.release_environment, "release-notes", False)
                   if plan.release_environment else None,
                   change_ticket=any(e.change_ticket for e in plan.environments),
                   emergency=any(e.window and e.emergency for e in plan.environments))
    return {PIPELINE_FILE: tidy(render_template("gitlab/gitlab-ci.yml.j2", **context))}


def tidy(text: str) -> str:
    """Drop the blank lines optional template blocks leave inside a job (before an indented line) and keep
    one blank line between jobs."""
    lines = text.splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if not line and (following.startswith(" ") or not following or (kept and not kept[-1])):
            continue
        kept.append(line)
    return "\n".join(kept) + "\n"


def bootstrap_script() -> str:
    """The shell lines that install bayat-deploy in a job (the components in templates/ carry the same)."""
    from bayat_deploy.templating import environment

    return environment("bayat_deploy.generate").get_template("gitlab/bootstrap.sh.j2").render().rstrip("\n")


def environment_jobs(plan: PipelinePlan) -> list[EnvironmentJobs]:
    frozen: set[str] = set()
    jobs = []
    for env in plan.environments:
        # Downstream of a frozen environment is frozen too: its `needs:` would point at absent jobs.
        if env.window or (env.after in frozen):
            frozen.add(env.name)
        jobs.append(EnvironmentJobs(env, env.starts_after, env.name in frozen))
    return jobs


def package_spec(ref: str) -> str:
    """What pip installs for the `--action-ref` the pipeline is generated for: `v1` is the newest 1.x,
    `v1.4` the newest 1.4.x, `v1.4.2` exactly that; any other ref (a commit, a branch) is built from git."""
    match = re.fullmatch(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?", ref)
    if not match:
        return f"{PACKAGE} @ git+https://github.com/bayat/deploy-action@{ref}"
    major, minor, patch = match.groups()
    if patch is not None:
        return f"{PACKAGE}=={major}.{minor}.{patch}"
    return f"{PACKAGE}=={major}.{minor}.*" if minor is not None else f"{PACKAGE}=={major}.*"


def cache_key(ref: str) -> str:
    return "bayat-deploy-" + re.sub(r"[^A-Za-z0-9._-]", "-", ref)


def workflow_rules(plan: PipelinePlan) -> list[str]:
    """`workflow:rules` conditions: pipelines run for merge requests (build, test and scan only: every other
    job is `release_only`) and for the branches and tags the environments deploy from."""
    rules = ['$CI_PIPELINE_SOURCE == "merge_request_event"']
    if plan.announced:  # the hourly schedule that announces maintenance windows (announce-* jobs only)
        rules.append('$CI_PIPELINE_SOURCE == "schedule"')
    rules += [ref_condition("CI_COMMIT_BRANCH", branch) for branch in plan.branches]
    rules += [ref_condition("CI_COMMIT_TAG", tag) for tag in plan.tags]
    return rules


def ref_condition(variable: str, pattern: str) -> str:
    """`$CI_COMMIT_BRANCH == "main"`, or a regular expression for a glob (`v*` -> `/^v.*$/`)."""
    if not any(c in pattern for c in "*?["):
        return f"${variable} == {_quoted(pattern)}"
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return f"${variable} =~ /^{regex.replace('/', chr(92) + '/')}$/"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emergency_environment(environment: str) -> str:
    """The protected environment whose approval rule is the emergency approvers (as on GitHub)."""
    return f"{environment}-emergency"
