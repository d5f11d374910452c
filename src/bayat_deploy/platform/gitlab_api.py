"""GitLab REST API (v4) client: what approvals and, later, the environments sync need. Configured from
the run context: CI_API_V4_URL, CI_PROJECT_ID, and a token (GITLAB_TOKEN as PRIVATE-TOKEN, else the job's
CI_JOB_TOKEN, which the Deployments API accepts since GitLab 16.2)."""

from __future__ import annotations

from urllib.parse import quote

from bayat_deploy.errors import BadInput
from bayat_deploy.platform.rest import ApiError, RestClient

MAINTAINER = ("the token needs the Maintainer role on the project and the `api` scope (a project or personal "
              "access token; CI_JOB_TOKEN cannot do this); protected environments need GitLab Premium")


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

    # ------------------------------------------------------------------------ environments (sync)
    def protected_environments(self, project: str) -> list[dict]:
        """GET /projects/:id/protected_environments (with `approval_rules`)."""
        return self.paginate(f"projects/{self.project_path(project)}/protected_environments", needs=MAINTAINER)

    def protect_environment(self, project: str, body: dict) -> dict:
        """POST /projects/:id/protected_environments: name, deploy_access_levels, approval_rules."""
        return self.send("POST", f"projects/{self.project_path(project)}/protected_environments", json=body,
                         needs=MAINTAINER)

    def update_protected_environment(self, project: str, name: str, body: dict) -> dict:
        """PUT /projects/:id/protected_environments/:name: entries with `id` update, with `_destroy` delete,
        without `id` are added (GitLab 15.4+)."""
        return self.send("PUT", f"projects/{self.project_path(project)}/protected_environments/"
                                f"{quote(name, safe='')}", json=body, needs=MAINTAINER)

    def freeze_periods(self, project: str) -> list[dict]:
        """GET /projects/:id/freeze_periods."""
        return self.paginate(f"projects/{self.project_path(project)}/freeze_periods", needs=MAINTAINER)

    def create_freeze_period(self, project: str, body: dict) -> dict:
        return self.send("POST", f"projects/{self.project_path(project)}/freeze_periods", json=body,
                         needs=MAINTAINER)

    def update_freeze_period(self, project: str, freeze_id: int, body: dict) -> dict:
        return self.send("PUT", f"projects/{self.project_path(project)}/freeze_periods/{freeze_id}", json=body,
                         needs=MAINTAINER)

    def delete_freeze_period(self, project: str, freeze_id: int) -> None:
        self.send("DELETE", f"projects/{self.project_path(project)}/freeze_periods/{freeze_id}", needs=MAINTAINER)

    def project(self, project: str) -> dict:
        """GET /projects/:id (its `namespace.full_path` is where a bare group name is looked for first)."""
        return self.send("GET", f"projects/{self.project_path(project)}", needs="the token must see the project")

    def group(self, path: str) -> dict | None:
        """GET /groups/:id by full path (without its projects), or None when there is no such group."""
        return self.send("GET", f"groups/{quote(path, safe='')}", params={"with_projects": "false"},
                         missing_ok=True, needs="the token needs `read_api` and must see the group")

    def user_by_username(self, username: str) -> dict | None:
        """GET /users?username=NAME: the user, or None."""
        found = self.send("GET", "users", params={"username": username})
        return found[0] if isinstance(found, list) and found else None


__all__ = ["ApiError", "GitLabApi"]
