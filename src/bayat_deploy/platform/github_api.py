"""GitHub REST API client (api.github.com or GitHub Enterprise Server): what approvals and, later, the
environments sync need. Configured from the run context: GITHUB_API_URL, GITHUB_TOKEN, GITHUB_REPOSITORY."""

from __future__ import annotations

from bayat_deploy.errors import BadInput
from bayat_deploy.platform.rest import ApiError, RestClient

API_VERSION = "2022-11-28"  # the REST API version whose OpenAPI description the tests validate against


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


__all__ = ["ApiError", "GitHubApi"]
