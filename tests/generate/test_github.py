"""The generated GitHub workflows: they pass actionlint, GitHub's JSON Schema and zizmor for the bundled
example and every policy of the corpus, and their job graph is the standard's."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bayat_deploy.generate.github import PINS
from bayat_deploy.generate.render import drift, render_files, write
from bayat_deploy.policy.loader import load_policy
from tests.conftest import REPO
from tests.support.lint import assert_workflows_pass
from tests.support.tools import tool

CORPUS = sorted((REPO / "tests" / "policy" / "corpus" / "ok").glob("*.yml"))
EXAMPLE = REPO / "examples" / "hello-api" / ".bayat" / "deploy.yml"
POLICIES = [EXAMPLE, *CORPUS]


def rendered_repo(tmp_path: Path, policy: Path) -> Path:
    repo = tmp_path / policy.stem
    (repo / ".bayat").mkdir(parents=True)
    shutil.copy(policy, repo / ".bayat" / "deploy.yml")
    write(repo, render_files(load_policy(repo / ".bayat" / "deploy.yml"), "github"))
    return repo


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    base = tmp_path_factory.mktemp("github")
    return {policy: rendered_repo(base, policy) for policy in POLICIES}


def workflow(repo: Path, name: str = "deploy.yml") -> dict:
    return yaml.safe_load((repo / ".github" / "workflows" / name).read_text())


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.parent.parent.name if p == EXAMPLE else p.stem)
def test_workflows_pass_actionlint_schema_and_zizmor(repos, policy):
    assert_workflows_pass(repos[policy], min_severity="medium")


def test_every_action_passes_the_action_schema_and_describes_every_input():
    actions = [REPO / "action.yml", *sorted((REPO / "actions").glob("*/action.yml"))]
    assert len(actions) >= 13
    checked = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-actions",
                              *map(str, actions)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for path in actions:
        action = yaml.safe_load(path.read_text())
        for name, spec in {**action.get("inputs", {}), **action.get("outputs", {})}.items():
            assert spec.get("description", "").strip(), f"{path}: {name} has no description"
        for step in action["runs"]["steps"]:
            assert "${{" not in step.get("run", ""), f"{path}: inputs must reach run: through env:"


def test_third_party_actions_are_pinned_by_full_sha_with_a_version_comment(repos):
    for repo in repos.values():
        for path in (repo / ".github" / "workflows").glob("*.yml"):
            for line in path.read_text().splitlines():
                match = re.search(r"uses: (\S+)@(\S+)(.*)", line)
                if not match or match.group(1).startswith("bayat/deploy-action"):
                    continue
                assert re.fullmatch(r"[0-9a-f]{40}", match.group(2)), line
                assert re.fullmatch(r" # v\d+\.\d+\.\d+", match.group(3)), line
    # Each SHA is the commit its release tag points to, read from the action's repository when it was pinned.
    assert {pin.repository for pin in PINS.values()} == {
        "actions/checkout", "actions/upload-artifact", "actions/download-artifact",
        "aws-actions/configure-aws-credentials", "google-github-actions/auth", "Azure/login"}


def test_the_job_graph_is_the_standards(repos):
    jobs = workflow(repos[EXAMPLE])["jobs"]
    assert list(jobs)[:6] == ["version", "build", "test", "scan", "release-notes", "publish"]
    assert jobs["publish"]["needs"] == ["version", "build", "test", "scan", "release-notes"]
    order = [("deploy-development", "publish"), ("deploy-testing", "verify-development"),
             ("approve-staging-qa", "verify-testing"), ("deploy-staging", "approve-staging-qa"),
             ("window-production", "verify-staging"), ("deploy-production", "window-production")]
    for job, after in order:
        assert after in jobs[job]["needs"], (job, after)
    # multi-party approval: QA in its own environment, then the product owner in staging's
    assert jobs["approve-staging-qa"]["environment"] == "staging-qa"
    assert jobs["deploy-staging"]["environment"] == {"name": "staging", "url": "http://127.0.0.1:8083"}
    # production: window or an emergency with its own approval environment, a change ticket at the gate
    assert jobs["emergency-production"]["environment"] == "production-emergency"
    assert "emergency-production" in jobs["deploy-production"]["needs"]
    deploying = next(s for s in jobs["deploy-production"]["steps"] if s.get("name", "").startswith("Deploy"))
    assert deploying["with"]["change-ticket"] == "${{ inputs.change-ticket || vars.CHANGE_TICKET }}"
    for env in ("development", "testing", "staging", "production"):
        deploy = jobs[f"deploy-{env}"]
        assert deploy["concurrency"] == {"group": f"deploy-hello-api-{env}", "cancel-in-progress": False}
        deploying = [s for s in deploy["steps"] if "/actions/deploy@" in s.get("uses", "")]
        assert len(deploying) == 1, "the deploy action runs the job's whole sequence"
        sequence = {k for k, v in deploying[0]["with"].items() if v is True}
        assert sequence >= {"gate", "notify"} and ("record-approvals" in sequence) == (env != "development")
        rollback = jobs[f"rollback-{env}"]
        assert rollback["needs"] == ["version", f"deploy-{env}", f"verify-{env}"]
        assert rollback["if"].startswith("${{ failure()")
    assert "window-development" not in jobs and "approve-development" not in " ".join(jobs)


def test_least_privilege(repos):
    for repo in repos.values():
        for path in sorted((repo / ".github" / "workflows").glob("*.yml")):
            document = workflow(repo, path.name)
            assert document["permissions"] == {}
            for job_name, job in document["jobs"].items():
                granted = job.get("permissions", {})
                assert set(granted.values()) <= {"read", "write"}, job_name
                writes = {k for k, v in granted.items() if v == "write"}
                # publishing pushes images and the release tag; the jobs that change an environment record
                # each attempt as a GitHub Deployment; nothing else writes
                allowed = {"packages", "contents"} if job_name == "publish" else set()
                if job_name.startswith(("deploy-", "verify-", "rollback")):
                    allowed = {"deployments"}
                assert writes <= allowed, (job_name, writes)
                if "verify" in job_name or "deploy-" in job_name or job_name.startswith("rollback"):
                    assert granted.get("deployments") == "write", job_name


def test_the_manual_rollback_workflow(repos):
    document = workflow(repos[EXAMPLE], "rollback.yml")
    triggers = document.get("on", document.get(True))  # YAML 1.1 reads the key `on` as true
    inputs = triggers["workflow_dispatch"]["inputs"]
    assert inputs["environment"]["options"] == ["development", "testing", "staging", "production"]
    assert set(inputs) == {"environment", "version", "reason"}
    step = document["jobs"]["rollback-development"]["steps"][1]  # one job per environment: each on its runner
    assert step["uses"] == "bayat/deploy-action/actions/rollback@v1"
    assert step["with"] == {"environment": "${{ inputs.environment }}", "to": "${{ inputs.version }}",
                            "reason": "${{ inputs.reason }}", "notify": True}


def test_secrets_reach_only_the_jobs_that_need_them(repos):
    jobs = workflow(repos[EXAMPLE])["jobs"]
    text = yaml.safe_dump(jobs["build"]) + yaml.safe_dump(jobs["test"]) + yaml.safe_dump(jobs["scan"])
    assert "secrets." not in text
    publish = next(s for s in jobs["publish"]["steps"] if "actions/publish" in s.get("uses", ""))
    assert set(publish["env"]) == {"REGISTRY_USERNAME", "REGISTRY_PASSWORD"}
    tag = next(s for s in jobs["publish"]["steps"] if s.get("name") == "Tag the release")
    assert tag["with"] == {"command": "tag", "push": True} and tag["env"] == {"GITHUB_TOKEN": "${{ github.token }}"}


def test_check_finds_drift_and_passes_when_current(tmp_path, generate):
    repo = rendered_repo(tmp_path, EXAMPLE)
    assert generate("--check", cwd=repo).code == 0
    path = repo / ".github" / "workflows" / "deploy.yml"
    path.write_text(path.read_text().replace("cancel-in-progress: false", "cancel-in-progress: true", 1))
    drifted = generate("--check", cwd=repo)
    assert drifted.code == 1 and "-      cancel-in-progress: true" in drifted.stderr
    (repo / ".bayat" / "deploy.yml").write_text(EXAMPLE.read_text().replace("url: http://127.0.0.1:8084",
                                                                            "url: https://shop.example.com"))
    assert "https://shop.example.com" in "\n".join(drift(repo, render_files(
        load_policy(repo / ".bayat" / "deploy.yml"), "github")))


def test_a_sha_pinned_action_needs_no_zizmor_exception(tmp_path, generate):
    repo = tmp_path / "pinned"
    (repo / ".bayat").mkdir(parents=True)
    shutil.copy(EXAMPLE, repo / ".bayat" / "deploy.yml")
    sha = "0123456789abcdef0123456789abcdef01234567"
    assert generate("--action-ref", sha, cwd=repo).code == 0
    assert not (repo / ".github" / "zizmor.yml").exists()
    assert f"bayat/deploy-action/actions/deploy@{sha}" in (repo / ".github/workflows/deploy.yml").read_text()


def test_a_broken_policy_writes_nothing(tmp_path, generate):
    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text("project: Bad Name\n")
    result = generate(cwd=tmp_path)
    assert result.code == 2 and "project:" in result.stderr
    assert not (tmp_path / ".github").exists()
