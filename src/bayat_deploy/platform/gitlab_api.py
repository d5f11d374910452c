"""GitLab REST API (v4) client: what approvals and, later, the environments sync need. Configured from
the run context: CI_API_V4_URL, CI_PROJECT_ID, and a token (GITLAB_TOKEN as PRIVATE-TOKEN, else the job's
CI_JOB_TOKEN, which the Deployments API accepts since GitLab 16.2)."""

from __future__ import annotations

from urllib.parse import quote

from bayat_deploy.errors import BadInput
from bayat_deploy.platform.rest import ApiError, RestClient


class GitLabApi(RestClient):
    platform = "GitLab"
    hints = {
        401: "the token is invalid or expired",
        403: "the token may not read deployments of this project (needs read_api, or a job token)",
        404: "no such project or deployment, or the token cannot see it",
    }

    def __init__(self, base_url: str, token: str, *, job_token: bool = False, timeout: float = 30.0, session=None):
        header = "JOB-TOKEN" if job_token else "PRIVATE-TOKEN"
        super().__init__(base_url, {header: token, "User-Agent": "bayat-deploy"}, timeout=timeout, session=session)

    @classmethod
    def from_context(cls, context) -> "GitLabApi":
        base = context.get("CI_API_V4_URL")
        if not base:
            raise BadInput("CI_API_V4_URL is not set: this command asks the GitLab API from a GitLab CI job")
        token = context.get("GITLAB_TOKEN") or context.get("BAYAT_GITLAB_TOKEN")
        if token:
            return cls(base, token)
        job_token = context.get("CI_JOB_TOKEN")
        if not job_token:
            raise BadInput("no GitLab token: set GITLAB_TOKEN (a project access token with read_api) or run in a "
                           "job, which has CI_JOB_TOKEN")
        return cls(base, job_token, job_token=True)

    @staticmethod
    def project_path(project: str) -> str:
        return quote(str(project), safe="")

    # ---------------------------------------------------------------------------------------- endpoints
    def deployment(self, project: str, deployment_id: str | int) -> dict:
        """GET /projects/:id/deployments/:deployment_id (with `approvals` and `approval_summary` on Premium)."""
        return self.get(f"projects/{self.project_path(project)}/deployments/{deployment_id}")

    def deployments(self, project: str, environment: str, *, limit: int = 200) -> list[dict]:
        """GET /projects/:id/deployments?environment=ENV, newest first."""
        return self.paginate(f"projects/{self.project_path(project)}/deployments",
                             {"environment": environment, "order_by": "id", "sort": "desc"}, limit=limit)

    def find_deployment(self, project: str, environment: str, *, job_id: str = "", pipeline_id: str = "",
                        sha: str = "") -> dict:
        """The deployment this job belongs to: made by this job, else by this pipeline, else of this commit.
        GitLab has no predefined variable with a deployment id, so it is looked up."""
        candidates = self.deployments(project, environment)
        for test, what in ((lambda d: job_id and str((d.get("deployable") or {}).get("id")) == str(job_id), "job"),
                           (lambda d: pipeline_id and str(((d.get("deployable") or {}).get("pipeline") or {})
                                                          .get("id")) == str(pipeline_id), "pipeline"),
                           (lambda d: sha and d.get("sha") == sha, "commit")):
            for deployment in candidates:
                if test(deployment):
                    return deployment
        raise ApiError(f"GitLab has no deployment to {environment} for job {job_id or '?'}, pipeline "
                       f"{pipeline_id or '?'} or commit {sha[:12] or '?'} among the newest {len(candidates)}; run "
                       "this in the deploy job (the one with `environment:`) or pass --deployment-id")


__all__ = ["ApiError", "GitLabApi"]
