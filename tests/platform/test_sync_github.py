"""`bayat-deploy environments sync --platform github` against a stateful local GitHub.

The server keeps environments, reviewers and deployment branch policies in memory, so idempotence and
"delete the extra pattern" are real. Every request body the command sends and every response the server
gives is validated against the vendored fragment of GitHub's OpenAPI description
(schemas/github-environments.schema.json); a mismatch is recorded and fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.gates.conftest import GateRepo
from tests.support.jsonserver import JsonServer

SCHEMAS = Path(__file__).parent / "schemas"
DEFS = json.loads((SCHEMAS / "github-environments.schema.json").read_text())["$defs"]
TOKEN = "ghs_admin"
NOW = "2026-03-01T10:00:00Z"


def validate(name: str, instance) -> None:
    jsonschema.Draft202012Validator({"$ref": f"#/$defs/{name}", "$defs": DEFS}).validate(instance)


def user_object(login: str, user_id: int, *, full: bool = False) -> dict:
    base = f"https://api.github.com/users/{login}"
    user = {"login": login, "id": user_id, "node_id": f"U_{user_id}",
            "avatar_url": f"https://avatars.example/{user_id}", "gravatar_id": "", "url": base,
            "html_url": f"https://github.com/{login}",
            "followers_url": f"{base}/followers", "following_url": f"{base}/following{{/other_user}}",
            "gists_url": f"{base}/gists{{/gist_id}}", "starred_url": f"{base}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{base}/subscriptions", "organizations_url": f"{base}/orgs",
            "repos_url": f"{base}/repos", "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events", "type": "User", "site_admin": False,
            "user_view_type": "private" if full else "public"}
    if full:  # GET /users/{username}: the `private-user` branch of the documented oneOf
        user.update(name=login.title(), company=None, blog="", location=None, email=None, hireable=None, bio=None,
                    public_repos=1, public_gists=0, followers=0, following=0, created_at=NOW, updated_at=NOW,
                    private_gists=0, total_private_repos=0, owned_private_repos=0, disk_usage=0, collaborators=0,
                    two_factor_authentication=True)
    return user


def team_object(org: str, slug: str, team_id: int, *, full: bool = False) -> dict:
    base = f"https://api.github.com/organizations/1/team/{team_id}"
    team = {"id": team_id, "node_id": f"T_{team_id}", "url": base,
            "html_url": f"https://github.com/orgs/{org}/teams/{slug}", "name": slug.replace("-", " ").title(),
            "slug": slug, "description": None, "privacy": "closed",
            "notification_setting": "notifications_enabled", "permission": "pull",
            "members_url": f"{base}/members{{/member}}", "repositories_url": f"{base}/repos", "parent": None,
            "type": "organization", "organization_id": 1}
    if full:
        org_url = f"https://api.github.com/orgs/{org}"
        team.update(members_count=3, repos_count=1, created_at=NOW, updated_at=NOW, organization={
            "login": org, "id": 1, "node_id": "O_1", "url": org_url, "repos_url": f"{org_url}/repos",
            "events_url": f"{org_url}/events", "hooks_url": f"{org_url}/hooks", "issues_url": f"{org_url}/issues",
            "members_url": f"{org_url}/members{{/member}}",
            "public_members_url": f"{org_url}/public_members{{/member}}",
            "avatar_url": "https://avatars.example/o1", "description": None, "html_url": f"https://github.com/{org}",
            "has_organization_projects": True, "has_repository_projects": True, "public_repos": 1, "public_gists": 0,
            "followers": 0, "following": 0, "type": "Organization", "created_at": NOW, "updated_at": NOW,
            "archived_at": None})
    return team


class FakeGitHub(JsonServer):
    """Environments, reviewers and branch policies of acme/shop, teams of acme, users; state in memory."""

    def __init__(self, teams: dict[str, int], users: dict[str, int]):
        super().__init__()
        self.teams, self.users = teams, users
        self.environments: dict[str, dict] = {}
        self.policies: dict[str, list[dict]] = {}
        self.forbid_writes = False
        self._ids = 1000

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    # ----------------------------------------------------------------------------------- state -> JSON
    def environment_json(self, name: str) -> dict:
        env = self.environments[name]
        rules = []
        if env["wait_timer"]:
            rules.append({"id": env["id"] + 1, "node_id": "GA_w", "type": "wait_timer",
                          "wait_timer": env["wait_timer"]})
        if env["reviewers"]:
            reviewers = []
            for kind, ident in env["reviewers"]:
                if kind == "Team":
                    slug = next(s for s, i in self.teams.items() if i == ident)
                    reviewers.append({"type": "Team", "reviewer": team_object("acme", slug, ident)})
                else:
                    login = next(u for u, i in self.users.items() if i == ident)
                    reviewers.append({"type": "User", "reviewer": user_object(login, ident)})
            rules.append({"id": env["id"] + 2, "node_id": "GA_r", "type": "required_reviewers",
                          "prevent_self_review": env["prevent_self_review"], "reviewers": reviewers})
        if env["branch_policy"]:
            rules.append({"id": env["id"] + 3, "node_id": "GA_b", "type": "branch_policy"})
        answer = {"id": env["id"], "node_id": f"EN_{env['id']}", "name": name,
                  "url": f"https://api.github.com/repos/acme/shop/environments/{name}",
                  "html_url": f"https://github.com/acme/shop/deployments/activity_log?environments_filter={name}",
                  "created_at": NOW, "updated_at": NOW, "protection_rules": rules,
                  "deployment_branch_policy": env["branch_policy"]}
        validate("environment", answer)
        return answer

    # ----------------------------------------------------------------------------------- requests
    def answer(self, method, path, query, body, headers):
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}
        if method != "GET" and self.forbid_writes:
            return 403, {"message": "Resource not accessible by integration",
                         "documentation_url": "https://docs.github.com/rest/deployments/environments"}
        parts = path.strip("/").split("/")
        if parts[:2] == ["orgs", "acme"] and parts[2:3] == ["teams"] and len(parts) == 4:
            if parts[3] not in self.teams:
                return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
            team = team_object("acme", parts[3], self.teams[parts[3]], full=True)
            validate("team-full", team)
            return 200, team
        if parts[0] == "users" and len(parts) == 2:
            if parts[1] not in self.users:
                return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
            user = user_object(parts[1], self.users[parts[1]], full=True)
            validate("private-user", user)
            return 200, user
        if parts[:4] != ["repos", "acme", "shop", "environments"]:
            return 404, {"message": "Not Found"}
        if len(parts) == 4 and method == "GET":
            listing = {"total_count": len(self.environments),
                       "environments": [self.environment_json(n) for n in self.environments]}
            validate("environments-list-response", listing)
            return 200, listing
        name = parts[4]
        if len(parts) == 5 and method == "PUT":
            return self.put_environment(name, body)
        if len(parts) >= 6 and parts[5] == "deployment-branch-policies":
            return self.branch_policies(method, name, parts[6] if len(parts) == 7 else None, body)
        return 404, {"message": "Not Found"}

    def put_environment(self, name: str, body):
        validate("put-environment-request", body)
        body = body or {}
        reviewers = [(r["type"], r["id"]) for r in body.get("reviewers") or []]
        if len(reviewers) > 6:
            return 422, {"message": "Validation Failed"}
        for kind, ident in reviewers:
            if ident not in (self.teams if kind == "Team" else self.users).values():
                return 422, {"message": f"Validation Failed: unknown {kind} {ident}"}
        policy = body.get("deployment_branch_policy")
        if policy and policy["protected_branches"] == policy["custom_branch_policies"]:
            return 422, {"message": "Validation Failed"}
        env = self.environments.setdefault(name, {"id": self.next_id() * 10})
        env.update(wait_timer=body.get("wait_timer", 0), reviewers=reviewers,
                   prevent_self_review=bool(body.get("prevent_self_review")) and bool(reviewers), branch_policy=policy)
        if not (policy and policy["custom_branch_policies"]):
            self.policies.pop(name, None)
        return 200, self.environment_json(name)

    def branch_policies(self, method, name, policy_id, body):
        env = self.environments.get(name)
        if env is None or not (env["branch_policy"] or {}).get("custom_branch_policies"):
            return 404, {"message": "Not Found"}
        policies = self.policies.setdefault(name, [])
        if method == "GET":
            listing = {"total_count": len(policies), "branch_policies": policies}
            validate("branch-policies-list-response", listing)
            return 200, listing
        if method == "POST":
            validate("deployment-branch-policy-name-pattern-with-type", body)
            kind = body.get("type", "branch")
            if any(p["name"] == body["name"] and p["type"] == kind for p in policies):
                return 303, None
            policy = {"id": self.next_id(), "node_id": "DBP", "name": body["name"], "type": kind}
            validate("deployment-branch-policy", policy)
            policies.append(policy)
            return 200, policy
        if method == "DELETE":
            before = len(policies)
            policies[:] = [p for p in policies if str(p["id"]) != policy_id]
            return (204, None) if len(policies) < before else (404, {"message": "Not Found"})
        return 404, {"message": "Not Found"}

    # ----------------------------------------------------------------------------------- for asserts
    def summary(self) -> dict:
        def reviewers(env):
            names = {i: f"team {s}" for s, i in self.teams.items()} | {i: f"user {u}" for u, i in self.users.items()}
            return sorted(names[ident] for _, ident in env["reviewers"])
        return {name: {"reviewers": reviewers(env), "wait_timer": env["wait_timer"],
                       "prevent_self_review": env["prevent_self_review"],
                       "patterns": sorted((p["type"], p["name"]) for p in self.policies.get(name, []))}
                for name, env in self.environments.items()}


TEAMS = {"lead-developers": 11, "qa": 12, "product-owners": 13, "management": 14, "release-managers": 15}
USERS = {"cfo": 501, "alice": 502}


@pytest.fixture
def github():
    server = FakeGitHub(dict(TEAMS), dict(USERS))
    yield server
    server.close()
    assert not server.problems, server.problems


@pytest.fixture
def repo(tmp_path) -> GateRepo:
    repo = GateRepo(tmp_path / "repo")
    repo.policy({"project": "shop"})  # the standard's approvals, windows and branch rules
    return repo


def sync(repo: GateRepo, server, *args: str, token: str = TOKEN):
    return repo.run("environments", "sync", "--platform", "github", *args,
                    env={"GITHUB_TOKEN": token, "GITHUB_API_URL": server.url, "GITHUB_REPOSITORY": "acme/shop"})


STANDARD = {
    "development": {"reviewers": [], "wait_timer": 0, "prevent_self_review": False,
                    "patterns": [("branch", "main")]},
    "testing": {"reviewers": ["team lead-developers"], "wait_timer": 0, "prevent_self_review": True,
                "patterns": [("branch", "main")]},
    "staging-qa": {"reviewers": ["team qa"], "wait_timer": 0, "prevent_self_review": True,
                   "patterns": [("branch", "main"), ("tag", "v*")]},
    "staging": {"reviewers": ["team product-owners"], "wait_timer": 0, "prevent_self_review": True,
                "patterns": [("branch", "main"), ("tag", "v*")]},
    "production": {"reviewers": ["team management"], "wait_timer": 0, "prevent_self_review": True,
                   "patterns": [("branch", "main"), ("tag", "v*")]},
    "production-emergency": {"reviewers": ["team management"], "wait_timer": 0, "prevent_self_review": True,
                             "patterns": [("branch", "main"), ("tag", "v*")]},
}


def test_fragment_accepts_documented_bodies_and_rejects_wrong_ones():
    validate("put-environment-request", {"wait_timer": 30, "prevent_self_review": False,
                                         "reviewers": [{"type": "User", "id": 1}, {"type": "Team", "id": 1}],
                                         "deployment_branch_policy": {"protected_branches": False,
                                                                      "custom_branch_policies": True}})
    validate("deployment-branch-policy-name-pattern-with-type", {"name": "v1", "type": "tag"})
    for wrong in ({"reviewer": []}, {"reviewers": [{"type": "Group", "id": 1}]}, {"wait_timer": "30"},
                  {"deployment_branch_policy": {"custom_branch_policies": True}}):
        with pytest.raises(jsonschema.ValidationError):
            validate("put-environment-request", wrong)
    with pytest.raises(jsonschema.ValidationError):
        validate("deployment-branch-policy-name-pattern-with-type", {"type": "tag"})


def test_standard_policy_creates_the_environments_the_workflow_uses_and_a_second_run_changes_nothing(repo, github):
    result = sync(repo, github)
    assert result.code == 0, result.stdout + result.stderr
    assert github.summary() == STANDARD
    assert "| staging-qa | reviewers | none | team qa | create |" in result.stdout
    evidence = json.loads((repo.evidence / "environments.json").read_text())
    assert evidence["status"] == "pass" and evidence["details"]["platform"] == "github"
    assert {c["target"] for c in evidence["details"]["changes"]} == set(STANDARD)
    assert all(c["done"] for c in evidence["details"]["changes"])
    assert TOKEN not in result.stdout + result.stderr + json.dumps(evidence)

    writes = len(github.writes)
    again = sync(repo, github)
    assert again.code == 0, again.stdout + again.stderr
    assert "nothing to change" in again.stdout and "Nothing changed" in again.stdout
    assert len(github.writes) == writes  # only GETs the second time
    assert github.summary() == STANDARD


def test_a_policy_change_changes_exactly_that(repo, github):
    assert sync(repo, github).code == 0
    github.policies["production"].append({"id": 4242, "node_id": "DBP", "name": "release/*", "type": "branch"})
    before = len(github.requests)
    repo.policy({"project": "shop", "environments": {
        "staging": {"deploy_from": {"branches": ["main"], "tags": []}},  # the tag pattern goes
        "production": {"approvals": {"rules": [{"name": "management", "groups": ["management"],
                                                "users": ["cfo"]}]}},  # a new reviewer
    }})
    result = sync(repo, github)
    assert result.code == 0, result.stdout + result.stderr
    writes = [(m, p) for m, p, _ in github.requests[before:] if m != "GET"]
    assert sorted(w[0] for w in writes) == ["DELETE", "DELETE", "DELETE", "PUT"]
    assert ("PUT", "/repos/acme/shop/environments/production") in writes
    expected = {name: dict(state) for name, state in STANDARD.items()}
    expected["staging"]["patterns"] = expected["staging-qa"]["patterns"] = [("branch", "main")]
    expected["production"]["reviewers"] = ["team management", "user cfo"]
    assert github.summary() == expected  # the hand-made release/* pattern on production went too
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert sorted(rows) == sorted([
        "| staging-qa | tag pattern | v* | - | delete |",
        "| staging | tag pattern | v* | - | delete |",
        "| production | reviewers | team management | team management, user cfo | update |",
        "| production | branch pattern | release/* | - | delete |",
    ])


def test_dry_run_prints_the_plan_and_writes_nothing(repo, github):
    result = sync(repo, github, "--dry-run")
    assert result.code == 0, result.stdout + result.stderr
    assert "dry run: " in result.stdout and "nothing written" in result.stdout
    assert github.writes == [] and github.environments == {}
    assert "| production-emergency | reviewers | none | team management | create |" in result.stdout


def test_unknown_team_and_user_fail_before_anything_is_written(repo, github):
    repo.policy({"project": "shop", "environments": {"production": {"approvals": {"rules": [
        {"name": "management", "groups": ["board"], "users": ["nobody"]}]}}}})
    result = sync(repo, github)
    assert result.code == 1
    assert "team 'board' does not exist in the organization acme" in result.stdout
    assert "user 'nobody' does not exist on GitHub" in result.stdout
    assert "environments.production.approvals.rules[0]" in result.stdout
    assert github.writes == []
    evidence = json.loads((repo.evidence / "environments.json").read_text())
    # `management` is no longer a group anywhere in this policy, so the emergency gate reads the emergency
    # approver `management` as a user login (gates/emergency.py), and the sync looks it up as one.
    assert evidence["status"] == "fail" and len(evidence["details"]["unresolved"]) == 3
    assert "user 'management'" in result.stdout and "maintenance.emergency.approvers" in result.stdout


def test_missing_token_says_what_token_is_needed(repo, github):
    result = sync(repo, github, token="")
    assert result.code == 2
    assert "GITHUB_TOKEN is not set" in result.stderr and "Administration: write" in result.stderr
    assert github.requests == []


def test_forbidden_names_the_missing_permission(repo, github):
    github.forbid_writes = True
    result = sync(repo, github)
    assert result.code == 1
    assert "403 Forbidden" in result.stdout and "Administration: write" in result.stdout
    assert "stopped after 0 of" in result.stdout


def test_more_than_six_reviewers_is_the_policys_fault(repo, github):
    repo.policy({"project": "shop", "environments": {"production": {"approvals": {"rules": [
        {"name": "management", "users": ["a1", "a2", "a3", "a4", "a5", "a6", "a7"]}]}}}})
    result = sync(repo, github)
    assert result.code == 2
    assert "at most 6 reviewers" in result.stderr and "production has 7" in result.stderr
    assert github.requests == []
