"""Approval evidence: GitHub's run review history and GitLab's deployment approvals, read over real HTTP from a
local server that answers in the platforms' documented shapes (GitHub's validated against the vendored
fragment of its OpenAPI description), manual attestations, and how rules are judged."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from bayat_deploy.gates.approvals import Approval, evaluate_rule, from_github, from_gitlab
from bayat_deploy.policy.model.environment import ApprovalRule

SCHEMAS = Path(__file__).parent / "schemas"


def github_user(login: str, user_id: int) -> dict:
    base = f"https://api.github.com/users/{login}"
    return {"login": login, "id": user_id, "node_id": f"MDQ6VXNlcj{user_id}", "name": None, "email": None,
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}", "gravatar_id": "", "url": base,
            "html_url": f"https://github.com/{login}", "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}", "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs", "repos_url": f"{base}/repos",
            "events_url": f"{base}/events{{/privacy}}", "received_events_url": f"{base}/received_events",
            "type": "User", "site_admin": False, "user_view_type": "public"}


def github_environment(name: str, env_id: int) -> dict:
    return {"id": env_id, "node_id": f"EN_{env_id}", "name": name,
            "url": f"https://api.github.com/repos/acme/shop/environments/{name}",
            "html_url": f"https://github.com/acme/shop/deployments/activity_log?environments_filter={name}",
            "created_at": "2026-01-05T09:00:00Z", "updated_at": "2026-01-05T09:00:00Z"}


GITHUB_PAGES = [
    [{"state": "approved", "comment": "Ship it!", "environments": [github_environment("staging", 11)],
      "user": github_user("qa-lead", 101)}],
    [{"state": "approved", "comment": "CAB approved CHG-42", "environments": [github_environment("production", 12)],
      "user": github_user("head-of-ops", 102)}],
]

GITLAB_USER = {"id": 100, "username": "security-user-1", "name": "security user-1", "state": "active",
               "avatar_url": "https://www.gravatar.com/avatar/x?s=80&d=identicon",
               "web_url": "http://gitlab.example/security-user-1"}


def gitlab_deployment(deployment_id: int, job_id: int, pipeline_id: int, *, approvals=None, rules=None) -> dict:
    """A deployment as `GET /projects/:id/deployments/:deployment_id` documents it (Premium: approvals)."""
    return {"id": deployment_id, "iid": deployment_id - 40, "ref": "main", "sha": "a91957a858320c0e17f3a0eca7cfacbf",
            "created_at": "2026-03-01T10:00:00.000Z", "updated_at": "2026-03-01T10:05:00.000Z", "status": "blocked",
            "user": {"id": 1, "name": "Administrator", "username": "root", "state": "active",
                     "avatar_url": "http://gitlab.example/a.png", "web_url": "http://gitlab.example/root"},
            "environment": {"id": 9, "name": "production", "external_url": "https://shop.example"},
            "deployable": {"id": job_id, "status": "manual", "stage": "deploy", "name": "deploy:production",
                           "ref": "main", "tag": False, "coverage": None,
                           "pipeline": {"id": pipeline_id, "ref": "main", "sha": "a91957a858320c0e17f3a0eca7cfacbf",
                                        "status": "running", "web_url": f"http://gitlab.example/p/{pipeline_id}"}},
            "pending_approval_count": 0,
            "approvals": approvals or [],
            **({"approval_summary": {"rules": rules}} if rules is not None else {})}


GITLAB_DEPLOYMENTS = [
    gitlab_deployment(42, 901, 77, approvals=[
        {"user": GITLAB_USER, "status": "approved", "created_at": "2026-03-01T10:03:00.000Z", "comment": None}],
        rules=[
            {"user_id": None, "group_id": 134, "access_level": None, "access_level_description": "management",
             "required_approvals": 1, "deployment_approvals": [
                 {"user": {**GITLAB_USER, "id": 5, "username": "cfo", "name": "C. F. O."}, "status": "approved",
                  "created_at": "2026-03-01T10:02:00.000Z", "comment": "CHG-42 approved by the CAB"}]},
            {"user_id": None, "group_id": 135, "access_level": None, "access_level_description": "security",
             "required_approvals": 1, "deployment_approvals": [
                 {"user": GITLAB_USER, "status": "approved", "created_at": "2026-03-01T10:03:00.000Z",
                  "comment": None}]}]),
    gitlab_deployment(41, 800, 70),  # an older deployment of another pipeline
]


class FakePlatform:
    """GitHub's and GitLab's approval endpoints on loopback, with token checks and Link pagination."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                platform.requests.append((self.path, dict(self.headers)))
                status, body, headers = platform.answer(self.path, self.headers)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, headers) -> tuple[int, object, dict]:
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        if parts.path == "/repos/acme/shop/actions/runs/4242/approvals":
            if headers.get("Authorization") != "Bearer ghs_test":
                return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, {}
            assert headers.get("X-GitHub-Api-Version") == "2022-11-28"
            page = int(query.get("page", ["1"])[0])
            link = {"Link": f'<{self.url}{parts.path}?per_page=1&page=2>; rel="next"'} if page == 1 else {}
            return 200, GITHUB_PAGES[page - 1], link
        if parts.path.startswith("/api/v4/projects/7/deployments"):
            if headers.get("JOB-TOKEN") != "job-token" and headers.get("PRIVATE-TOKEN") != "glpat-test":
                return 401, {"message": "401 Unauthorized"}, {}
            if parts.path == "/api/v4/projects/7/deployments":
                assert query["environment"] == ["production"] and query["sort"] == ["desc"]
                return 200, GITLAB_DEPLOYMENTS, {}
            wanted = int(parts.path.rsplit("/", 1)[1])
            for deployment in GITLAB_DEPLOYMENTS:
                if deployment["id"] == wanted:
                    return 200, deployment, {}
            return 404, {"message": "404 Not found"}, {}
        return 404, {"message": "Not Found"}, {}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform():
    instance = FakePlatform()
    yield instance
    instance.close()


def test_github_samples_follow_the_published_schema():
    schema = json.loads((SCHEMAS / "github-run-approvals.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for page in GITHUB_PAGES:
        validator.validate(page)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate([{"state": "approved", "environments": [], "comment": ""}])  # no user


def github_env(platform, **extra) -> dict:
    return {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": platform.url, "GITHUB_REPOSITORY": "acme/shop",
            "GITHUB_RUN_ID": "4242", "GITHUB_TOKEN": "ghs_test", "GITHUB_SHA": "", "GITHUB_ACTOR": "release-bot",
            "GITHUB_OUTPUT": "", "GITHUB_STEP_SUMMARY": "", **extra}


def gitlab_env(platform, **extra) -> dict:
    return {"GITLAB_CI": "true", "CI_API_V4_URL": f"{platform.url}/api/v4", "CI_PROJECT_ID": "7",
            "CI_JOB_TOKEN": "job-token", "CI_JOB_ID": "901", "CI_PIPELINE_ID": "77", "CI_COMMIT_SHA": "",
            "GITLAB_USER_LOGIN": "release-bot", "CI_PROJECT_DIR": "", **extra}


APPROVAL_POLICY = {"project": "shop", "environments": {
    "production": {"approvals": {"rules": [{"name": "management", "groups": ["management"]}]}},
}}


def test_github_review_history_is_recorded_across_pages(gate_repo, platform):
    gate_repo.policy(APPROVAL_POLICY)
    result = gate_repo.run("approvals", "record", "--env", "production", env=github_env(platform))
    assert result.code == 0, result.stdout + result.stderr
    envelope = json.loads((gate_repo.evidence / "approvals-production.json").read_text())
    details = envelope["details"]
    assert details["source"] == "github"
    assert details["request"]["url"].endswith("/repos/acme/shop/actions/runs/4242/approvals")
    assert [(a["user"], a["environments"], a["comment"]) for a in details["approvals"]] == [
        ("qa-lead", ["staging"], "Ship it!"), ("head-of-ops", ["production"], "CAB approved CHG-42")]
    [rule] = details["rules"]
    assert rule["passed"] and rule["approvers"] == ["head-of-ops"]  # the staging review does not count here
    assert "GitHub environment protection" in rule["enforced_by"]
    assert [p for p, _ in platform.requests] == ["/repos/acme/shop/actions/runs/4242/approvals?per_page=100",
                                                 "/repos/acme/shop/actions/runs/4242/approvals?per_page=1&page=2"]
    assert "ghs_test" not in result.stdout + result.stderr + json.dumps(envelope)


def test_github_rejection_fails_every_rule(gate_repo, platform):
    gate_repo.policy(APPROVAL_POLICY)
    GITHUB_PAGES.append([])
    original = GITHUB_PAGES[1][0]["state"]
    GITHUB_PAGES[1][0]["state"] = "rejected"
    try:
        result = gate_repo.run("approvals", "record", "--env", "production", env=github_env(platform))
    finally:
        GITHUB_PAGES[1][0]["state"] = original
        GITHUB_PAGES.pop()
    assert result.code == 1 and "rejected by head-of-ops" in result.stdout


@pytest.mark.parametrize("env_change,code,message", [
    ({"GITHUB_TOKEN": "wrong"}, 1, "GitHub API GET"),
    ({"GITHUB_TOKEN": ""}, 2, "GITHUB_TOKEN is not set"),
    ({"GITHUB_RUN_ID": "999"}, 1, "404"),
])
def test_github_errors_say_what_to_fix(gate_repo, platform, env_change, code, message):
    gate_repo.policy(APPROVAL_POLICY)
    result = gate_repo.run("approvals", "record", "--env", "production", env=github_env(platform, **env_change))
    assert result.code == code and message in result.stderr
    assert "Traceback" not in result.stderr and "wrong" not in result.stderr


def test_gitlab_deployment_of_this_job_is_found_and_rules_attributed(gate_repo, platform):
    policy = {"project": "shop", "environments": {"production": {"approvals": {"rules": [
        {"name": "management", "groups": ["management"]}, {"name": "security", "groups": ["acme/security"]}]}}}}
    gate_repo.policy(policy)
    result = gate_repo.run("approvals", "record", "--env", "production", env=gitlab_env(platform))
    assert result.code == 0, result.stdout + result.stderr
    details = json.loads((gate_repo.evidence / "approvals-production.json").read_text())["details"]
    assert details["request"]["deployment_id"] == 42
    assert details["request"]["platform_rules"] == [{"group": "management", "required_approvals": 1},
                                                    {"group": "security", "required_approvals": 1}]
    by_user = {a["user"]: a for a in details["approvals"]}
    assert by_user["cfo"]["group"] == "management" and by_user["cfo"]["at"] == "2026-03-01T10:02:00.000Z"
    assert by_user["security-user-1"]["group"] == "security"
    assert [(r["rule"], r["approvers"]) for r in details["rules"]] == [("management", ["cfo"]),
                                                                     ("security", ["security-user-1"])]
    assert all("GitLab approval rule for group" in r["enforced_by"] for r in details["rules"])
    paths = [p for p, _ in platform.requests]
    assert paths[0].startswith("/api/v4/projects/7/deployments?") and paths[1] == "/api/v4/projects/7/deployments/42"
    assert all(h.get("JOB-TOKEN") == "job-token" for _, h in platform.requests)


def test_gitlab_group_attribution_is_enforced(gate_repo, platform):
    """cfo approved for the management group, which does not satisfy a rule for the qa group."""
    policy = {"project": "shop", "environments": {"production": {"approvals": {"rules": [
        {"name": "qa", "groups": ["qa"]}]}}}}
    gate_repo.policy(policy)
    result = gate_repo.run("approvals", "record", "--env", "production", "--deployment-id", "42",
                           env=gitlab_env(platform, CI_JOB_TOKEN="", GITLAB_TOKEN="glpat-test"))
    assert result.code == 1
    assert "| qa | 1 | - | **not met** | needs 1 approval(s) from group qa; has 0 of 1 |" in result.stdout
    assert "| cfo | approved | gitlab (management) | production | 2026-03-01T10:02:00.000Z |" in result.stdout
    assert all(h.get("PRIVATE-TOKEN") == "glpat-test" for _, h in platform.requests)


def test_gitlab_without_a_matching_deployment_says_so(gate_repo, platform):
    gate_repo.policy(APPROVAL_POLICY)
    result = gate_repo.run("approvals", "record", "--env", "production",
                           env=gitlab_env(platform, CI_JOB_ID="1", CI_PIPELINE_ID="2", CI_COMMIT_SHA="b" * 40))
    assert result.code == 1 and "GitLab has no deployment to production" in result.stderr


def test_local_runs_need_an_attestation(gate_repo):
    gate_repo.policy(APPROVAL_POLICY)
    result = gate_repo.run("approvals", "record", "--env", "production")
    assert result.code == 2 and "--approved-by" in result.stderr


def test_manual_attestations_accumulate_and_are_marked(gate_repo):
    gate_repo.policy({"project": "shop", "environments": {"staging": {"approvals": {"rules": [
        {"name": "qa", "users": ["quinn"]}, {"name": "product-owner", "users": ["paula"]}]}}}})
    first = gate_repo.run("approvals", "record", "--env", "staging", "--approved-by", "quinn", "--rule", "qa")
    assert first.code == 1 and "unmet product-owner" in first.stdout
    second = gate_repo.run("approvals", "record", "--env", "staging", "--approved-by", "paula", "--comment", "ok")
    assert second.code == 0, second.stdout
    details = json.loads((gate_repo.evidence / "approvals-staging.json").read_text())["details"]
    assert [(a["user"], a["source"], a["rule"]) for a in details["approvals"]] == [
        ("quinn", "manual", "qa"), ("paula", "manual", None)]
    assert details["kept_attestations"] == 1 and "manual attestation" in second.stdout


def test_unknown_rule_is_bad_input(gate_repo):
    gate_repo.policy(APPROVAL_POLICY)
    result = gate_repo.run("approvals", "record", "--env", "production", "--approved-by", "x", "--rule", "qa")
    assert result.code == 2 and "has no such approval rule" in result.stderr


def manual(user, rule=None):
    return Approval(user=user, state="approved", source="manual", environments=["production"], rule=rule)


def platform_approval(user, source="github", group=None, state="approved", environments=("production",)):
    return Approval(user=user, state=state, source=source, environments=list(environments), group=group)


MANAGEMENT = ApprovalRule(name="management", groups=("management",))
TWO_USERS = ApprovalRule(name="cab", users=("alice", "bob", "carol"), count=2)

RULE_CASES = [
    ("platform-approval-for-group", MANAGEMENT, [platform_approval("ops")], True, "GitHub environment protection"),
    ("other-environment", MANAGEMENT, [platform_approval("ops", environments=("staging",))], False, "has 0 of 1"),
    ("manual-cannot-prove-group", MANAGEMENT, [manual("ops")], False, "cannot prove membership of management"),
    ("gitlab-right-group", MANAGEMENT, [platform_approval("ops", "gitlab", "management")], True, "group management"),
    ("gitlab-group-path", MANAGEMENT, [platform_approval("ops", "gitlab", "acme/management")], True, "acme/management"),
    ("gitlab-wrong-group", MANAGEMENT, [platform_approval("ops", "gitlab", "qa")], False, "has 0 of 1"),
    ("two-users-of-three", TWO_USERS, [manual("alice"), manual("carol")], True, "policy users"),
    ("same-user-twice", TWO_USERS, [manual("alice"), platform_approval("alice")], False, "has 1 of 2 (alice)"),
    ("attestation-for-another-rule", TWO_USERS, [manual("alice", "qa"), manual("bob")], False, "has 1 of 2"),
    ("pending-does-not-count", MANAGEMENT, [platform_approval("ops", state="pending")], False, "has 0 of 1"),
    ("rejection-wins", MANAGEMENT, [platform_approval("ops"), platform_approval("cfo", state="rejected")], False,
     "rejected by cfo"),
    ("self-review", TWO_USERS, [manual("alice"), manual("runner")], False, "runner started this run"),
]


@pytest.mark.parametrize("case,rule,approvals,passed,words", RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_rule_evaluation(case, rule, approvals, passed, words):
    if case == "self-review":
        rule = ApprovalRule(name="cab", users=("alice", "runner"), count=2)
    result = evaluate_rule(rule, approvals, "production", "runner", prevent_self_review=True)
    assert result.passed is passed
    assert words in result.reason + " " + result.enforced_by


def test_normalisation_of_platform_answers():
    github = from_github(GITHUB_PAGES[1])
    assert github[0].user == "head-of-ops" and github[0].at is None and github[0].source == "github"
    gitlab = from_gitlab(GITLAB_DEPLOYMENTS[0])
    assert {(a.user, a.group) for a in gitlab} == {("cfo", "management"), ("security-user-1", "security")}


CHAIN_POLICY = {"project": "shop", "environments": {
    "staging": {"approvals": {"rules": [{"name": "qa", "groups": ["qa"]},
                                        {"name": "product-owner", "groups": ["product-owners"]}]}},
}}


@pytest.fixture
def github_pages():
    """Replace the review history the local GitHub answers with, for one test."""
    saved = [list(page) for page in GITHUB_PAGES]

    def use(*reviews):
        GITHUB_PAGES[:] = [list(reviews), []]
    yield use
    GITHUB_PAGES[:] = saved


def review(login, user_id, environment, env_id):
    return {"state": "approved", "comment": "", "environments": [github_environment(environment, env_id)],
            "user": github_user(login, user_id)}


def test_a_chained_approval_counts_each_environment_for_its_own_party(gate_repo, platform, github_pages):
    # The generated GitHub pipeline approves staging in two environments: staging-qa (QA), then staging
    # (the product owner). Each approval must count for its own rule only.
    gate_repo.policy(CHAIN_POLICY)
    github_pages(review("qa-lead", 101, "staging-qa", 21))
    qa_only = gate_repo.run("approvals", "record", "--env", "staging", "--rule", "qa", env=github_env(platform))
    assert qa_only.code == 0, qa_only.stdout + qa_only.stderr
    assert [r["rule"] for r in evidence_of(gate_repo)["details"]["rules"]] == ["qa"]
    whole = gate_repo.run("approvals", "record", "--env", "staging", env=github_env(platform))
    assert whole.code == 1 and "unmet product-owner" in whole.stdout
    github_pages(review("qa-lead", 101, "staging-qa", 21), review("po", 102, "staging", 22))
    both = gate_repo.run("approvals", "record", "--env", "staging", env=github_env(platform))
    assert both.code == 0, both.stdout
    rules = {r["rule"]: r["approvers"] for r in evidence_of(gate_repo)["details"]["rules"]}
    assert rules == {"qa": ["qa-lead"], "product-owner": ["po"]}


def evidence_of(gate_repo, environment="staging"):
    return json.loads((gate_repo.evidence / f"approvals-{environment}.json").read_text())


def test_an_emergency_approval_opens_a_closed_window_without_naming_the_approver(gate_repo, platform,
                                                                                    github_pages):
    gate_repo.policy({"project": "shop"})
    github_pages(review("ops-lead", 103, "production-emergency", 31))
    env = github_env(platform, GITHUB_SHA=gate_repo.sha)
    recorded = gate_repo.run("approvals", "record", "--env", "production", "--rule", "emergency", env=env)
    assert recorded.code == 0, recorded.stdout + recorded.stderr
    tuesday_noon = "2026-12-01T12:00:00Z"  # outside Sunday 02:00-05:00
    closed = gate_repo.run("window", "check", "--env", "production", "--at", tuesday_noon, env=env)
    assert closed.code == 1
    opened = gate_repo.run("window", "check", "--env", "production", "--at", tuesday_noon, "--emergency",
                           "--reason", "INC-7: checkout down", env=env)
    assert opened.code == 0, opened.stdout + opened.stderr
    window = json.loads((gate_repo.evidence / "window-production.json").read_text())
    assert window["inputs"]["approved_by"] == ["ops-lead"]
