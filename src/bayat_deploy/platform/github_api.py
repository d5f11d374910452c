"""GitHub REST API client (api.github.com or GitHub Enterprise Server): what approvals and, later, the
environments sync need. Configured from the run context: GITHUB_API_URL, GITHUB_TOKEN, GITHUB_REPOSITORY."""

from __future__ import annotations

from urllib.parse import quote

from bayat_deploy.errors import BadInput
from bayat_deploy.platform.rest import ApiError, RestClient

API_VERSION = "2022-11-28"  # the REST API version whose OpenAPI description the tests validate against
# What the environments endpoints need; the workflow's own GITHUB_TOKEN can never be granted it.
ADMINISTRATION = ("the token needs the `Administration: write` repository permission (fine-grained token or "
                  "GitHub App) or the `repo` scope (classic token) to manage environments; a workflow's own "
                  "GITHUB_TOKEN cannot get it")
DEPLOYMENTS = "the job's token needs `permissions: deployments: write` to record deployments"
RELEASES = "the token needs `contents: write` to create a release and upload its assets"
MEMBERS = ("the token needs the `Members: read` organization permission (classic: `read:org`) to look up teams, "
           "or the team does not exist")


class GitHubApi(RestClient):
    platform = "GitHub"
    hints = {
        401: "GITHUB_TOKEN is invalid or expired",
        403: "the token lacks a permission; approvals need `actions: read`",
        404: "no such repository or run, or the token cannot see it",
    }

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0, session=None):
        super().__init__(base_url, {"Accept": "application/vnd.github+json", "Authorization": f"Bearer {token}",
                                    "X-GitHub-Api-Version": API_VERSION, "User-Agent": "bayat-deploy"},
                         timeout=timeout, session=session)

    @classmethod
    def from_context(cls, context) -> "GitHubApi":
        token = context.get("GITHUB_TOKEN") or context.get("GH_TOKEN")
        if not token:
            raise BadInput("GITHUB_TOKEN is not set: give the step `env: GITHUB_TOKEN: ${{ github.token }}` "
                           "(with `permissions: actions: read`)")
        return cls(context.get("GITHUB_API_URL") or "https://api.github.com", token)

    # ---------------------------------------------------------------------------------------- endpoints
    def run_approvals(self, repository: str, run_id: str) -> list[dict]:
        """GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals: the review history of a workflow run
        (who approved or rejected which environments, with their comment)."""
        if "/" not in repository or not str(run_id).strip():
            raise BadInput(f"a repository (owner/name) and a run id are needed, got {repository!r} and {run_id!r}")
        return self.paginate(f"repos/{repository}/actions/runs/{run_id}/approvals")

    # ------------------------------------------------------------------------ environments (sync)
    @staticmethod
    def _environment_path(repository: str, name: str) -> str:
        return f"repos/{repository}/environments/{quote(name, safe='')}"

    def environments(self, repository: str) -> list[dict]:
        """GET /repos/{owner}/{repo}/environments: every environment with its protection rules."""
        return self.paginate(f"repos/{repository}/environments", key="environments", needs=ADMINISTRATION)

    def put_environment(self, repository: str, name: str, body: dict) -> dict:
        """PUT /repos/{owner}/{repo}/environments/{environment_name}: create or update (wait timer,
        prevent self-review, reviewers, deployment branch policy)."""
        return self.send("PUT", self._environment_path(repository, name), json=body, needs=ADMINISTRATION)

    def branch_policies(self, repository: str, name: str) -> list[dict]:
        """GET .../environments/{environment_name}/deployment-branch-policies: branch and tag patterns."""
        return self.paginate(f"{self._environment_path(repository, name)}/deployment-branch-policies",
                             key="branch_policies", needs=ADMINISTRATION)

    def create_branch_policy(self, repository: str, name: str, pattern: str, kind: str) -> dict | None:
        """POST .../deployment-branch-policies with {name, type}; None when the pattern exists (303)."""
        return self.send("POST", f"{self._environment_path(repository, name)}/deployment-branch-policies",
                         json={"name": pattern, "type": kind}, needs=ADMINISTRATION)

    def delete_branch_policy(self, repository: str, name: str, policy_id: int) -> None:
        self.send("DELETE", f"{self._environment_path(repository, name)}/deployment-branch-policies/{policy_id}",
                  needs=ADMINISTRATION)

    # ------------------------------------------------------------------ deployments (the audit trail)
    def create_deployment(self, repository: str, body: dict) -> dict:
        """POST /repos/{owner}/{repo}/deployments (repos/create-deployment)."""
        return self.send("POST", f"repos/{repository}/deployments", json=body, needs=DEPLOYMENTS)

    def create_deployment_status(self, repository: str, deployment_id: int, body: dict) -> dict:
        """POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses (repos/create-deployment-status)."""
        return self.send("POST", f"repos/{repository}/deployments/{deployment_id}/statuses", json=body,
                         needs=DEPLOYMENTS)

    def deployments(self, repository: str, environment: str, *, task: str = "", limit: int | None = None) -> list:
        """GET /repos/{owner}/{repo}/deployments?environment=ENV[&task=TASK], newest first."""
        query = {"environment": environment, **({"task": task} if task else {})}
        return self.paginate(f"repos/{repository}/deployments", query, limit=limit)

    # ------------------------------------------------------------------------------- releases
    def release_by_tag(self, repository: str, tag: str) -> dict | None:
        """GET /repos/{owner}/{repo}/releases/tags/{tag}, or None when the tag has no release."""
        return self.send("GET", f"repos/{repository}/releases/tags/{quote(tag, safe='')}", missing_ok=True)

    def create_release(self, repository: str, body: dict) -> dict:
        """POST /repos/{owner}/{repo}/releases (repos/create-release)."""
        return self.send("POST", f"repos/{repository}/releases", json=body, needs=RELEASES)

    def upload_release_asset(self, release: dict, path, content_type: str = "application/octet-stream") -> dict:
        """POST the file to the release's upload_url (uploads.github.com, repos/upload-release-asset)."""
        import requests

        url = release["upload_url"].split("{", 1)[0]
        try:
            response = self.session.post(url, params={"name": path.name}, data=path.read_bytes(),
                                         headers={"Content-Type": content_type}, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ApiError(f"GitHub API POST {url}: cannot connect ({type(exc).__name__}: {exc})") from None
        if response.status_code >= 400:
            raise ApiError(self._error_text(url, response, method="POST", needs=RELEASES), response.status_code)
        return response.json()

    def team(self, org: str, slug: str) -> dict | None:
        """GET /orgs/{org}/teams/{team_slug}, or None when there is no such team."""
        return self.send("GET", f"orgs/{quote(org, safe='')}/teams/{quote(slug, safe='')}", missing_ok=True,
                         needs=MEMBERS)

    def user(self, login: str) -> dict | None:
        """GET /users/{username}, or None when there is no such user."""
        return self.send("GET", f"users/{quote(login, safe='')}", missing_ok=True)


__all__ = ["ApiError", "GitHubApi"]
