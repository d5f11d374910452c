"""What `environments sync` would create, computed from the policy alone: for the standard, the bundled
example and every policy of the corpus; the GitHub environments are exactly the ones the generated
workflow names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bayat_deploy.platform.sync import desired
from bayat_deploy.policy.loader import load_policy

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted((REPO / "tests" / "policy" / "corpus" / "ok").glob("*.yml"))
POLICIES = [REPO / "examples" / "hello-api" / ".bayat" / "deploy.yml", *CORPUS]


def policy_of(tmp_path: Path, document: dict):
    (tmp_path / ".bayat").mkdir(exist_ok=True)
    path = tmp_path / ".bayat" / "deploy.yml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return load_policy(path).policy


def workflow_environments(loaded, platform: str = "github") -> set[str]:
    from bayat_deploy.generate.render import render_files

    names = set()
    for text in render_files(loaded, platform).values():
        document = yaml.safe_load(text) or {}
        jobs = document.get("jobs", {}) if platform == "github" else document
        for job in jobs.values():
            if not isinstance(job, dict):
                continue
            environment = job.get("environment")
            if environment and "${{" not in str(environment):  # the manual rollback picks one at run time
                names.add(environment["name"] if isinstance(environment, dict) else environment)
    return names


def test_standard_policy_on_github(tmp_path):
    plan = desired.github(policy_of(tmp_path, {"project": "shop"}))
    table = {e.name: (e.purpose, e.groups, e.users, e.branches, e.tags, e.prevent_self_review, e.wait_timer)
             for e in plan.environments}
    assert table == {
        "development": ("deploy", (), (), ("main",), (), True, 0),
        "testing": ("deploy", ("lead-developers",), (), ("main",), (), True, 0),
        "staging-qa": ("approval", ("qa",), (), ("main",), ("v*",), True, 0),
        "staging": ("deploy", ("product-owners",), (), ("main",), ("v*",), True, 0),
        "production": ("deploy", ("management",), (), ("main",), ("v*",), True, 0),
        "production-emergency": ("emergency", ("management",), (), ("main",), ("v*",), True, 0),
    }
    assert plan.notes == ()


def test_wait_timer_minutes_and_emergency_approvers_split_into_teams_and_users(tmp_path):
    plan = desired.github(policy_of(tmp_path, {"project": "shop", "environments": {"production": {
        "approvals": {"wait_timer": "15m", "prevent_self_review": False,
                      "rules": [{"name": "management", "groups": ["@acme/management"]}]},
        "maintenance": {"emergency": {"approvers": ["acme/management", "oncall-lead"]}}}}}))
    production = {e.name: e for e in plan.environments}
    assert (production["production"].wait_timer, production["production"].prevent_self_review) == (15, False)
    assert production["production"].groups == ("acme/management",)
    emergency = production["production-emergency"]
    assert (emergency.groups, emergency.users, emergency.wait_timer) == (("acme/management",), ("oncall-lead",), 0)


def test_counts_above_one_are_noted_for_github(tmp_path):
    plan = desired.github(policy_of(tmp_path, {"project": "shop", "environments": {"staging": {"approvals": {
        "rules": [{"name": "qa", "groups": ["qa"], "count": 2}, {"name": "product-owner", "groups": ["po"]}]}}}}))
    assert any("rule qa needs 2 approvals" in note for note in plan.notes)


def test_standard_policy_on_gitlab(tmp_path):
    found = desired.gitlab(policy_of(tmp_path, {"project": "shop"}))
    assert [(e.name, e.deploy_access_level, [(r.rule, r.kind, r.principal, r.required_approvals) for r in e.rules])
            for e in found] == [
        ("testing", 30, [("lead-developer", "group", "lead-developers", 1)]),
        ("staging", 30, [("qa", "group", "qa", 1), ("product-owner", "group", "product-owners", 1)]),
        ("production", 40, [("management", "group", "management", 1)]),
        ("production-emergency", 40, [("emergency", "group", "management", 1)]),
    ]


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.parent.parent.name if p.name == "deploy.yml" else p.stem)
def test_every_policy_gives_the_environments_its_workflow_uses(path, tmp_path):
    target = tmp_path / ".bayat" / "deploy.yml"
    target.parent.mkdir()
    target.write_text(path.read_text())
    loaded = load_policy(target)
    plan = desired.github(loaded.policy)
    assert {e.name for e in plan.environments} == workflow_environments(loaded)
    assert all(e.reviewer_count <= desired.GITHUB_MAX_REVIEWERS for e in plan.environments)
    for env in desired.gitlab(loaded.policy):
        assert env.rules and all(r.required_approvals >= 1 for r in env.rules)


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.parent.parent.name if p.name == "deploy.yml" else p.stem)
def test_every_protected_environment_is_one_the_gitlab_pipeline_deploys_to(path, tmp_path):
    pytest.importorskip("bayat_deploy.generate.gitlab")
    target = tmp_path / ".bayat" / "deploy.yml"
    target.parent.mkdir()
    target.write_text(path.read_text())
    loaded = load_policy(target)
    pipeline = workflow_environments(loaded, "gitlab")
    protected = {env.name for env in desired.gitlab(loaded.policy)}
    assert protected <= pipeline, protected - pipeline
    approving = {name for name, env in loaded.policy.environments.items() if env.approvals.rules}
    if loaded.policy.kind == "library":  # its pipeline deploys nowhere: only the publish job's environment
        assert protected == pipeline == {"production"}
        return
    assert approving <= protected
