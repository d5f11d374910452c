"""`bayat-deploy environments sync --platform gitlab` against a stateful local GitLab.

GitLab publishes no complete OpenAPI description for protected environments, freeze periods, groups
and users, so the shapes below are written from the documented requests and example responses of the
Protected environments API (POST, PUT with `id`/`_destroy` entries, GitLab 15.4+), the Freeze Periods
API, `GET /groups/:id` and `GET /users?username=` (docs.gitlab.com, doc/api/*.md). Every request body
the command sends and every response the server gives is checked against them.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import jsonschema
import pytest

from tests.gates.conftest import GateRepo
from tests.support.jsonserver import JsonServer

TOKEN = "glpat-admin"
NOW = "2026-03-01T10:00:00.000Z"

PRINCIPAL = {"oneOf": [{"required": ["user_id"]}, {"required": ["group_id"]}, {"required": ["access_level"]}]}
ENTRY = {"type": "object", "properties": {
    "id": {"type": "integer"}, "user_id": {"type": "integer"}, "group_id": {"type": "integer"},
    "access_level": {"enum": [30, 40, 60]}, "group_inheritance_type": {"enum": [0, 1]},
    "required_approvals": {"type": "integer", "minimum": 1}, "_destroy": {"const": True}},
    "additionalProperties": False}
SHAPES = {
    "protect-request": {"type": "object", "required": ["name", "deploy_access_levels"], "additionalProperties": False,
                        "properties": {"name": {"type": "string", "minLength": 1},
                                       "deploy_access_levels": {"type": "array", "minItems": 1,
                                                                "items": {**ENTRY, **PRINCIPAL}},
                                       "approval_rules": {"type": "array", "items": {**ENTRY, **PRINCIPAL}},
                                       "required_approval_count": {"type": "integer"}}},
    # PUT: an entry with `id` updates or (with `_destroy`) deletes that record; one without creates.
    "update-request": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": {
        "deploy_access_levels": {"type": "array", "items": ENTRY},
        "approval_rules": {"type": "array", "items": {**ENTRY, "anyOf": [{"required": ["id"]}, PRINCIPAL]}}}},
    "protected-environment": {"type": "object", "required": ["name", "deploy_access_levels"], "properties": {
        "name": {"type": "string"},
        "deploy_access_levels": {"type": "array", "items": {"type": "object", "required": [
            "id", "access_level", "access_level_description", "user_id", "group_id", "group_inheritance_type"]}},
        "required_approval_count": {"type": "integer"},
        "approval_rules": {"type": "array", "items": {"type": "object", "required": [
            "id", "user_id", "group_id", "access_level", "access_level_description", "required_approvals",
            "group_inheritance_type"]}}}},
    "freeze-request": {"type": "object", "additionalProperties": False, "properties": {
        "freeze_start": {"type": "string", "pattern": r"^\S+( \S+){4}$"},
        "freeze_end": {"type": "string", "pattern": r"^\S+( \S+){4}$"}, "cron_timezone": {"type": "string"}}},
    "freeze-period": {"type": "object", "required": ["id", "freeze_start", "freeze_end", "cron_timezone",
                                                     "created_at", "updated_at"]},
    "group": {"type": "object", "required": ["id", "name", "path", "full_name", "full_path", "web_url"]},
    "user": {"type": "object", "required": ["id", "username", "name", "state", "avatar_url", "web_url"]},
}


def check(shape: str, instance) -> None:
    jsonschema.Draft202012Validator(SHAPES[shape]).validate(instance)


class FakeGitLab(JsonServer):
    """Project 7 (acme/shop): protected environments and freeze periods in memory; groups and users."""

    def __init__(self, groups: dict[str, int], users: dict[str, int]):
        super().__init__()
        self.groups, self.users = groups, users
        self.protected: dict[str, dict] = {}
        self.freezes: list[dict] = []
        self.forbid_writes = False
        self._ids = 100

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _entry(self, entry: dict, *, rule: bool) -> dict:
        group = entry.get("group_id")
        level = entry.get("access_level")
        description = (next(p for p, i in self.groups.items() if i == group).rsplit("/", 1)[-1] if group
                       else {30: "Developers + Maintainers", 40: "Maintainers", 60: "Admins"}.get(level, "user"))
        record = {"id": self.next_id(), "access_level": level, "access_level_description": description,
                  "user_id": entry.get("user_id"), "group_id": group,
                  "group_inheritance_type": entry.get("group_inheritance_type", 0)}
        if rule:
            record["required_approvals"] = entry.get("required_approvals", 1)
        return record

    def _json(self, name: str) -> dict:
        env = self.protected[name]
        answer = {"name": name, "deploy_access_levels": env["deploy"], "required_approval_count": 0,
                  "approval_rules": env["rules"]}
        check("protected-environment", answer)
        return answer

    def answer(self, method, path, query, body, headers):
        if headers.get("PRIVATE-TOKEN") != TOKEN:
            return 401, {"message": "401 Unauthorized"}
        if method != "GET" and self.forbid_writes:
            return 403, {"message": "403 Forbidden"}
        if path.startswith("/api/v4/groups/"):
            full = path[len("/api/v4/groups/"):]
            if full not in self.groups:
                return 404, {"message": "404 Group Not Found"}
            group = {"id": self.groups[full], "name": full.rsplit("/", 1)[-1], "path": full.rsplit("/", 1)[-1],
                     "full_name": full.replace("/", " / "), "full_path": full, "description": "",
                     "visibility": "private", "web_url": f"https://gitlab.example/groups/{full}", "parent_id": 1}
            check("group", group)
            return 200, group
        if path == "/api/v4/users":
            name = parse_qs(query).get("username", [""])[0]
            if name not in self.users:
                return 200, []
            user = {"id": self.users[name], "username": name, "name": name.title(), "state": "active",
                    "locked": False, "avatar_url": "https://gitlab.example/a.png",
                    "web_url": f"https://gitlab.example/{name}"}
            check("user", user)
            return 200, [user]
        if path == "/api/v4/projects/7":
            return 200, {"id": 7, "name": "shop", "path": "shop", "path_with_namespace": "acme/shop",
                         "namespace": {"id": 1, "name": "acme", "path": "acme", "kind": "group", "full_path": "acme"}}
        prefix = "/api/v4/projects/7/"
        if not path.startswith(prefix):
            return 404, {"message": "404 Project Not Found"}
        parts = path[len(prefix):].split("/")
        if parts[0] == "protected_environments":
            return self.protected_environments(method, parts[1] if len(parts) > 1 else None, body)
        if parts[0] == "freeze_periods":
            return self.freeze_periods(method, int(parts[1]) if len(parts) > 1 else None, body)
        return 404, {"message": "404 Not found"}

    def protected_environments(self, method, name, body):
        if method == "GET" and name is None:
            return 200, [self._json(n) for n in self.protected]
        if method == "POST":
            check("protect-request", body)
            if body["name"] in self.protected:
                return 409, {"message": "Protected environment already exists"}
            self.protected[body["name"]] = {
                "deploy": [self._entry(e, rule=False) for e in body["deploy_access_levels"]],
                "rules": [self._entry(e, rule=True) for e in body.get("approval_rules") or []]}
            return 201, self._json(body["name"])
        if name not in self.protected:
            return 404, {"message": "404 Not found"}
        if method == "GET":
            return 200, self._json(name)
        if method == "PUT":
            check("update-request", body)
            env = self.protected[name]
            for field, rule in (("deploy_access_levels", False), ("approval_rules", True)):
                records = env["deploy" if not rule else "rules"]
                for entry in body.get(field) or []:
                    if "id" not in entry:
                        records.append(self._entry(entry, rule=rule))
                        continue
                    record = next((r for r in records if r["id"] == entry["id"]), None)
                    if record is None:
                        return 404, {"message": f"404 {field} {entry['id']} Not Found"}
                    if entry.get("_destroy"):
                        records.remove(record)
                    else:
                        record.update({k: v for k, v in entry.items() if k != "id"})
            return 200, self._json(name)
        return 405, {"message": "405 Method Not Allowed"}

    def freeze_periods(self, method, ident, body):
        if method == "GET" and ident is None:
            for period in self.freezes:
                check("freeze-period", period)
            return 200, self.freezes
        if method == "POST":
            check("freeze-request", body)
            period = {"id": self.next_id(), "cron_timezone": "UTC", **body, "created_at": NOW, "updated_at": NOW}
            self.freezes.append(period)
            return 201, period
        period = next((p for p in self.freezes if p["id"] == ident), None)
        if period is None:
            return 404, {"message": "404 Not found"}
        if method == "PUT":
            check("freeze-request", body)
            period.update(body)
            return 200, period
        if method == "DELETE":
            self.freezes.remove(period)
            return 204, None
        return 200, period

    def summary(self) -> dict:
        groups = {i: p for p, i in self.groups.items()}
        users = {i: u for u, i in self.users.items()}
        state = {name: {"deploy": sorted(e["access_level"] for e in env["deploy"]),
                        "rules": sorted((groups.get(r["group_id"]) or users.get(r["user_id"]), r["required_approvals"])
                                        for r in env["rules"])}
                 for name, env in self.protected.items()}
        state["freezes"] = sorted((p["freeze_start"], p["freeze_end"], p["cron_timezone"]) for p in self.freezes)
        return state


GROUPS = {"acme/lead-developers": 11, "acme/qa": 12, "acme/product-owners": 13, "acme/management": 14,
          "acme/security": 15}
USERS = {"cfo": 501}
STANDARD = {
    "testing": {"deploy": [30], "rules": [("acme/lead-developers", 1)]},
    "staging": {"deploy": [30], "rules": [("acme/product-owners", 1), ("acme/qa", 1)]},
    "production": {"deploy": [40], "rules": [("acme/management", 1)]},
    "production-emergency": {"deploy": [40], "rules": [("acme/management", 1)]},
    "freezes": [("0 5 * * 0", "0 2 * * 0", "UTC")],
}


@pytest.fixture
def gitlab():
    server = FakeGitLab(dict(GROUPS), dict(USERS))
    yield server
    server.close()
    assert not server.problems, server.problems


@pytest.fixture
def repo(tmp_path) -> GateRepo:
    repo = GateRepo(tmp_path / "repo")
    repo.policy({"project": "shop"})
    return repo


def sync(repo: GateRepo, server, *args: str, **env: str):
    variables = {"GITLAB_TOKEN": TOKEN, "CI_API_V4_URL": f"{server.url}/api/v4", "CI_PROJECT_ID": "7",
                 "CI_PROJECT_NAMESPACE": "acme", "CI_JOB_TOKEN": "", **env}
    return repo.run("environments", "sync", "--platform", "gitlab", *args, env=variables)


def test_documented_shapes_accept_the_documented_examples():
    check("protect-request", {"name": "production", "deploy_access_levels": [{"group_id": 9899826}],
                              "approval_rules": [{"group_id": 134}, {"group_id": 135, "required_approvals": 2}]})
    for body in ({"approval_rules": [{"id": 38, "_destroy": True}]},
                 {"approval_rules": [{"id": 38, "group_id": 135, "required_approvals": 2}]},
                 {"approval_rules": [{"group_id": 134, "required_approvals": 1}]}):
        check("update-request", body)
    check("freeze-request", {"freeze_start": "0 23 * * 5", "freeze_end": "0 7 * * 1", "cron_timezone": "UTC"})
    with pytest.raises(jsonschema.ValidationError):
        check("protect-request", {"name": "production", "deploy_access_levels": [{"group_id": 1, "user_id": 2}]})
    with pytest.raises(jsonschema.ValidationError):
        check("update-request", {"approval_rules": [{"required_approvals": 2}]})


def test_standard_policy_protects_environments_with_one_rule_per_party_and_freezes_outside_the_window(repo, gitlab):
    result = sync(repo, gitlab)
    assert result.code == 0, result.stdout + result.stderr
    assert gitlab.summary() == STANDARD  # staging: QA and product owner are two rules
    assert "| freeze periods | freeze period | - | 0 5 * * 0 until 0 2 * * 0 (UTC) | create |" in result.stdout
    assert "$CI_DEPLOY_FREEZE" in result.stdout and "whole project" in result.stdout
    posts = [body for method, path, body in gitlab.requests if method == "POST" and path.endswith("environments")]
    assert [b["name"] for b in posts] == ["testing", "staging", "production", "production-emergency"]
    evidence = json.loads((repo.evidence / "environments.json").read_text())
    assert evidence["status"] == "pass" and evidence["details"]["platform"] == "gitlab"
    assert TOKEN not in result.stdout + result.stderr + json.dumps(evidence)

    writes = len(gitlab.writes)
    again = sync(repo, gitlab)
    assert again.code == 0, again.stdout + again.stderr
    assert "nothing to change" in again.stdout and len(gitlab.writes) == writes


def test_a_policy_change_changes_exactly_that(repo, gitlab):
    assert sync(repo, gitlab).code == 0
    staging_rules = {r["group_id"]: r["id"] for r in gitlab.protected["staging"]["rules"]}
    before = len(gitlab.requests)
    repo.policy({"project": "shop", "environments": {
        "staging": {"approvals": {"rules": [{"name": "qa", "groups": ["qa"], "count": 2},
                                            {"name": "product-owner", "groups": ["product-owners"]}]}},
        "production": {"approvals": {"rules": [{"name": "management", "groups": ["management"]},
                                               {"name": "finance", "users": ["cfo"]}]},
                       "maintenance": {"windows": [{"cron": "0 3 * * SUN", "duration": "3h"}]}},
    }})
    result = sync(repo, gitlab)
    assert result.code == 0, result.stdout + result.stderr
    writes = [(m, p, b) for m, p, b in gitlab.requests[before:] if m != "GET"]
    assert writes == [
        ("PUT", "/api/v4/projects/7/protected_environments/staging",
         {"approval_rules": [{"id": staging_rules[12], "group_id": 12, "required_approvals": 2}]}),
        ("PUT", "/api/v4/projects/7/protected_environments/production",
         {"approval_rules": [{"user_id": 501, "required_approvals": 1}]}),
        ("PUT", f"/api/v4/projects/7/freeze_periods/{gitlab.freezes[0]['id']}",
         {"freeze_start": "0 6 * * 0", "freeze_end": "0 3 * * 0", "cron_timezone": "UTC"}),
    ]
    assert gitlab.summary()["staging"]["rules"] == [("acme/product-owners", 1), ("acme/qa", 2)]
    assert gitlab.summary()["production"]["rules"] == [("acme/management", 1), ("cfo", 1)]

    repo.policy({"project": "shop"})  # back to the standard: the extra rule is destroyed, counts restored
    assert sync(repo, gitlab).code == 0
    assert gitlab.summary() == STANDARD
    destroyed = [b for m, p, b in gitlab.requests if m == "PUT" and p.endswith("/production") and b and
                 any(e.get("_destroy") for e in b["approval_rules"])]
    assert len(destroyed) == 1


def test_hand_made_freezes_go_unless_kept(repo, gitlab):
    gitlab.freezes.append({"id": 9, "freeze_start": "0 0 24 12 *", "freeze_end": "0 0 27 12 *",
                           "cron_timezone": "Europe/Berlin", "created_at": NOW, "updated_at": NOW})
    kept = sync(repo, gitlab, "--keep-extra-freezes")
    assert kept.code == 0, kept.stdout + kept.stderr
    assert ("0 0 24 12 *", "0 0 27 12 *", "Europe/Berlin") in gitlab.summary()["freezes"]
    assert "left in place (--keep-extra-freezes)" in kept.stdout
    dry = sync(repo, gitlab, "--dry-run")
    assert dry.code == 0 and "| freeze periods | freeze period | 0 0 24 12 * until 0 0 27 12 * (Europe/Berlin) | - " \
                             "| delete |" in dry.stdout
    assert len(gitlab.summary()["freezes"]) == 2  # the dry run wrote nothing
    assert sync(repo, gitlab).code == 0
    assert gitlab.summary()["freezes"] == STANDARD["freezes"]


def test_no_freeze_leaves_freeze_periods_alone(repo, gitlab):
    result = sync(repo, gitlab, "--no-freeze")
    assert result.code == 0 and gitlab.freezes == []
    assert "freeze periods not synced (--no-freeze)" in result.stdout


def test_unknown_group_fails_before_anything_is_written(repo, gitlab):
    repo.policy({"project": "shop", "environments": {"staging": {"approvals": {"rules": [
        {"name": "qa", "groups": ["quality"]}, {"name": "product-owner", "users": ["po"]}]}}}})
    result = sync(repo, gitlab)
    assert result.code == 1
    assert "group 'quality' not found (tried acme/quality, quality" in result.stdout
    assert "user 'po' not found" in result.stdout and "environments.staging.approvals.rules[1]" in result.stdout
    assert gitlab.writes == []


def test_job_token_alone_is_not_enough(repo, gitlab):
    result = sync(repo, gitlab, GITLAB_TOKEN="", CI_JOB_TOKEN="job-token")
    assert result.code == 2
    assert "CI_JOB_TOKEN cannot manage protected environments" in result.stderr and "Maintainer" in result.stderr


def test_forbidden_names_the_role_and_scope(repo, gitlab):
    gitlab.forbid_writes = True
    result = sync(repo, gitlab)
    assert result.code == 1
    assert "403 Forbidden" in result.stdout and "Maintainer role" in result.stdout and "`api` scope" in result.stdout


def test_a_rule_naming_two_parties_cannot_be_one_gitlab_rule(repo, gitlab):
    repo.policy({"project": "shop", "environments": {"production": {"approvals": {"rules": [
        {"name": "management", "groups": ["management"], "users": ["cfo"]}]}}}})
    result = sync(repo, gitlab)
    assert result.code == 2
    assert "environments.production.approvals.rules[0] (management) names group management, user cfo" in result.stderr
    assert gitlab.requests == []


def test_windows_in_two_time_zones_cannot_be_one_freeze(repo, gitlab):
    repo.policy({"project": "shop", "environments": {"production-eu": {
        "tier": "production", "promote_from": "production",
        "maintenance": {"windows": [{"cron": "0 3 * * SUN", "duration": "2h", "timezone": "Europe/Berlin"}]}}}})
    result = sync(repo, gitlab)
    assert result.code == 2
    assert "2 time zones" in result.stderr and "--no-freeze" in result.stderr
    assert sync(repo, gitlab, "--no-freeze").code == 0


def test_bare_group_names_are_looked_for_beside_the_project(repo, gitlab):
    result = sync(repo, gitlab, CI_PROJECT_NAMESPACE="")  # a project id alone: the namespace is asked for
    assert result.code == 0, result.stdout + result.stderr
    assert ("GET", "/api/v4/projects/7", None) in gitlab.requests
    assert gitlab.summary()["staging"] == STANDARD["staging"]
