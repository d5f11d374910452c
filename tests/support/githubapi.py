"""A local stand-in for GitHub's Deployments API (GitHub itself is not reachable here)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs

import jsonschema

from tests.platform.test_sync_github import user_object
from tests.support.jsonserver import JsonServer

DEFS = json.loads((Path(__file__).parents[1] / "platform" / "schemas" / "github-deployments.schema.json")
                  .read_text())["$defs"]


def validate(name: str, instance) -> None:
    jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": DEFS}).validate(instance)


class FakeGitHubDeployments(JsonServer):
    """Deployments and deployment statuses of one repository, kept in memory (and a run's approvals, empty).
    Every request body and answer is validated against the vendored fragment of GitHub's OpenAPI
    description; a mismatch is kept in `problems` and answered with a 500."""

    def __init__(self, *, repository: str = "acme/shop", token: str = "ghs_deployments", writable: bool = True):
        super().__init__()
        self.repository, self.token, self.writable = repository, token, writable
        self.deployments: list[dict] = []
        self.statuses: dict[int, list[dict]] = {}

    def _api(self, path: str) -> str:
        return f"https://api.github.com/repos/{self.repository}{path}"

    def answer(self, method, path, query, body, headers):
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Bad credentials"}
        if method == "GET" and path.endswith("/approvals"):  # a run's environment approvals: nobody had to
            return 200, []
        base = f"/repos/{self.repository}/deployments"
        if path == base and method == "POST":
            if not self.writable:
                return 403, {"message": "Resource not accessible by integration"}
            validate("create-deployment-request", body)
            number = len(self.deployments) + 1001
            deployment = {
                "url": self._api(f"/deployments/{number}"), "id": number, "node_id": f"DE_{number}",
                "sha": body["ref"], "ref": body["ref"], "task": body.get("task", "deploy"),
                "payload": body.get("payload", {}), "original_environment": body["environment"],
                "environment": body["environment"], "description": body.get("description"),
                "creator": user_object("github-actions[bot]", 41898282),
                "created_at": f"2026-12-07T10:{number - 1000:02d}:00Z",
                "updated_at": f"2026-12-07T10:{number - 1000:02d}:00Z",
                "statuses_url": self._api(f"/deployments/{number}/statuses"),
                "repository_url": self._api(""),
                "transient_environment": body.get("transient_environment", False),
                "production_environment": body.get("production_environment", False),
            }
            validate("deployment", deployment)
            self.deployments.append(deployment)
            self.statuses[number] = []
            return 201, deployment
        if path == base and method == "GET":
            wanted = {key: values[0] for key, values in parse_qs(query).items()}
            found = [d for d in reversed(self.deployments)  # newest first, as GitHub lists them
                     if all(d.get(key) == wanted[key] for key in ("environment", "task", "sha") if key in wanted)]
            validate("deployments-list-response", found)
            return 200, found
        if path.startswith(base + "/") and path.endswith("/statuses") and method == "POST":
            number = int(path.split("/")[-2])
            validate("create-deployment-status-request", body)
            status = {
                "url": self._api(f"/deployments/{number}/statuses/{len(self.statuses[number]) + 1}"),
                "id": number * 10 + len(self.statuses[number]), "node_id": f"DES_{number}",
                "state": body["state"], "creator": user_object("github-actions[bot]", 41898282),
                "description": body.get("description", ""),
                "environment": self.deployments[number - 1001]["environment"],
                "target_url": body.get("log_url", ""), "log_url": body.get("log_url", ""),
                "environment_url": body.get("environment_url", ""),
                "created_at": "2026-12-07T10:30:00Z", "updated_at": "2026-12-07T10:30:00Z",
                "deployment_url": self._api(f"/deployments/{number}"), "repository_url": self._api(""),
            }
            validate("deployment-status", status)
            self.statuses[number].append(status)
            return 201, status
        return 404, {"message": "Not Found"}
