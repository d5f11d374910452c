"""The CI platform's own deployment history: the audit trail beside the deployment record.

GitHub: every deploy, rollback, promote and abort the record gets also becomes a GitHub Deployment
(task `deploy:bayat-deploy`, the entry as its payload: version, digest, image, config hash, previous
version, outcome, record id) with one deployment status for the outcome. The repository's Environments
page and the API then show what was deployed, when and by whom, whichever throwaway runner did it.

GitLab: a job with `environment:` makes GitLab record a deployment itself (commit, ref, job, status,
user); those are read, never written (GitLab's deployments carry no payload to put a version in).

`history --source platform` reads either one, from a job or from a laptop with a token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bayat_deploy.errors import BadInput

TASK = "deploy:bayat-deploy"
AUDITED = ("deploy", "rollback", "promote", "abort", "emergency")
# record outcome -> GitHub deployment status state
GITHUB_STATES = {"succeeded": "success", "failed": "failure", "rolled-back": "failure", "aborted": "error",
                 "in-progress": "in_progress", "paused": "in_progress", "approved": "success",
                 "interrupted": "error"}
# GitLab deployment status -> record outcome
GITLAB_OUTCOMES = {"success": "succeeded", "failed": "failed", "canceled": "aborted", "skipped": "aborted",
                   "created": "in-progress", "running": "in-progress", "blocked": "in-progress"}
PAYLOAD_FIELDS = ("environment", "action", "version", "outcome", "strategy", "image", "digest", "config_hash",
                  "previous_version", "triggered_by", "pipeline_url", "commit", "started", "finished",
                  "duration_seconds", "reason", "id")
DESCRIPTION_LIMIT = 140  # GitHub's limit for deployment and status descriptions


def _short(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


@dataclass
class GitHubTrail:
    api: object  # GitHubApi
    repository: str
    production: frozenset[str] = frozenset()

    where = "GitHub Deployments"

    def write(self, entry, *, url: str = "") -> int:
        """One deployment with the entry as payload, and its status. Returns the deployment id."""
        from bayat_deploy.redact import redact_data

        payload = redact_data({name: getattr(entry, name) for name in PAYLOAD_FIELDS})
        payload["reason"] = _short(payload.get("reason") or "", 1000)
        summary = f"{entry.action} {entry.version or '(no version)'}: {entry.outcome}"
        deployment = self.api.create_deployment(self.repository, {
            "ref": entry.commit, "task": TASK, "auto_merge": False, "required_contexts": [],
            "environment": entry.environment, "payload": payload, "description": _short(summary),
            "transient_environment": False, "production_environment": entry.environment in self.production,
        })
        status = {"state": GITHUB_STATES.get(entry.outcome, "error"),
                  "description": _short(f"{summary}. {entry.reason}" if entry.reason else summary)}
        if entry.pipeline_url:
            status["log_url"] = entry.pipeline_url
        if url:
            status["environment_url"] = url
        self.api.create_deployment_status(self.repository, deployment["id"], status)
        return deployment["id"]

    def read(self, environment: str, limit: int | None = None) -> list[dict]:
        """The entries this tool wrote for the environment, oldest first (as the record lists them)."""
        entries = []
        for deployment in self.api.deployments(self.repository, environment, task=TASK, limit=limit):
            payload = deployment.get("payload")
            if isinstance(payload, str):  # the API answers the payload as it was given, object or JSON text
                try:
                    payload = json.loads(payload or "{}")
                except ValueError:
                    payload = {}
            payload = payload if isinstance(payload, dict) else {}
            entry = {name: payload[name] for name in PAYLOAD_FIELDS if name in payload}
            entry.setdefault("environment", deployment.get("environment") or environment)
            entry.setdefault("action", "deploy")
            entry.setdefault("version", "")
            entry.setdefault("outcome", "in-progress")
            entry.setdefault("commit", deployment.get("sha") or "")
            entry.setdefault("finished", deployment.get("created_at") or "")
            entry.setdefault("triggered_by", (deployment.get("creator") or {}).get("login") or "")
            entry["details"] = {"platform": {"deployment_id": deployment.get("id"), "url": deployment.get("url")}}
            entries.append(entry)
        return list(reversed(entries))


@dataclass
class GitLabTrail:
    api: object  # GitLabApi
    project: str

    where = "GitLab deployments"

    def write(self, entry, *, url: str = "") -> None:
        """GitLab recorded this job's deployment already (the job's `environment:`)."""
        return None

    def read(self, environment: str, limit: int | None = None) -> list[dict]:
        entries = []
        for deployment in self.api.deployments(self.project, environment, limit=limit or 200):
            job = deployment.get("deployable") or {}
            pipeline = job.get("pipeline") or {}
            name = job.get("name") or ""
            ref = deployment.get("ref") or ""
            entries.append({
                "environment": (deployment.get("environment") or {}).get("name") or environment,
                "action": "rollback" if name.startswith("rollback") else "deploy",
                # GitLab keeps no version; a tag ref is the best it knows
                "version": ref if deployment.get("tag", job.get("tag")) else "",
                "outcome": GITLAB_OUTCOMES.get(deployment.get("status") or "", deployment.get("status") or ""),
                "commit": deployment.get("sha") or "", "triggered_by": (deployment.get("user") or {}).get("username")
                or "", "pipeline_url": pipeline.get("web_url") or job.get("web_url") or "",
                "started": deployment.get("created_at") or "",
                "finished": deployment.get("finished_at") or deployment.get("updated_at") or "",
                "reason": f"job {name} on {ref}" if name else "",
                "details": {"platform": {"deployment_id": deployment.get("id"), "iid": deployment.get("iid")}},
            })
        return list(reversed(entries))


def trail_for(context, production: frozenset[str] = frozenset()):
    """The platform's deployment history the run context can reach: the job's own platform in CI, or on a
    laptop whichever one the environment names (GITHUB_REPOSITORY + GITHUB_TOKEN, or CI_API_V4_URL +
    CI_PROJECT_ID + GITLAB_TOKEN)."""
    github = context.platform == "github" or (context.platform == "local" and context.get("GITHUB_REPOSITORY"))
    gitlab = context.platform == "gitlab" or (context.platform == "local" and context.get("CI_API_V4_URL"))
    if github:
        from bayat_deploy.platform.github_api import GitHubApi

        repository = context.get("GITHUB_REPOSITORY")
        if "/" not in repository:
            raise BadInput(f"GITHUB_REPOSITORY must be owner/name to reach GitHub Deployments, got {repository!r}")
        return GitHubTrail(GitHubApi.from_context(context), repository, production)
    if gitlab:
        from bayat_deploy.platform.gitlab_api import GitLabApi

        project = context.get("CI_PROJECT_ID") or context.get("CI_PROJECT_PATH")
        if not project:
            raise BadInput("CI_PROJECT_ID (or CI_PROJECT_PATH) is not set: it names the GitLab project whose "
                           "deployments are read")
        return GitLabTrail(GitLabApi.from_context(context), project)
    raise BadInput("no CI platform to read deployments from: outside a pipeline set GITHUB_REPOSITORY=owner/name "
                   "and GITHUB_TOKEN, or CI_API_V4_URL, CI_PROJECT_ID and GITLAB_TOKEN")
