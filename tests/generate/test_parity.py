"""Parity: the GitHub workflows and the `.gitlab-ci.yml` generated from the same policy enforce the same gates.

Both platforms are rendered from each policy (the bundled example and the whole corpus); each rendered file
is parsed back - YAML, and the comment above each job where the platform keeps the only trace of who
approves (GitHub environments and GitLab protected environments hold the reviewers, not the file) - into
the same vocabulary of facts: which environments exist in which order, and for each the approval parties,
the required-checks gate (and its change ticket), the maintenance window, the emergency path with its own
approval environment, verification, performance test, monitoring, rollback on failure and by hand, the
compliance bundle, one deployment at a time. Any fact one platform has and the other lacks fails the test.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bayat_deploy.generate.render import render_files, write
from bayat_deploy.policy.loader import load_policy
from tests.conftest import REPO

CORPUS = sorted((REPO / "tests" / "policy" / "corpus" / "ok").glob("*.yml"))
EXAMPLE = REPO / "examples" / "hello-api" / ".bayat" / "deploy.yml"
POLICIES = [EXAMPLE, *CORPUS]
STAGE_JOBS = ("version", "build", "test", "scan", "release-notes", "publish")


def policy_id(policy: Path) -> str:
    return policy.parent.parent.name if policy == EXAMPLE else policy.stem


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    base = tmp_path_factory.mktemp("parity")
    repos = {}
    for policy in POLICIES:
        repo = base / policy_id(policy)
        (repo / ".bayat").mkdir(parents=True)
        shutil.copy(policy, repo / ".bayat" / "deploy.yml")
        loaded = load_policy(repo / ".bayat" / "deploy.yml")
        write(repo, {**render_files(loaded, "github"), **render_files(loaded, "gitlab")})
        repos[policy] = repo
    return repos


def comment_above(text: str, key: str, indent: int) -> str:
    """The comment block right above the line `<indent>key:`."""
    lines = text.splitlines()
    index = lines.index(" " * indent + key + ":")
    block = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("#"):
            break
        block.insert(0, line.strip().lstrip("#").strip())
    return " ".join(block)


def needs_of(job: dict) -> list[str]:
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else needs
    return [n if isinstance(n, str) else n["job"] for n in needs]


def closure(jobs: dict, name: str) -> set[str]:
    seen, todo = set(), [name]
    while todo:
        for need in needs_of(jobs[todo.pop()]):
            if need not in seen:
                seen.add(need)
                todo.append(need)
    return seen


def pipeline_facts(jobs: dict, envs: list[str]) -> set[str]:
    facts = {f"stage job {name}" for name in STAGE_JOBS if name in jobs}
    facts.add("publish after " + ", ".join(sorted(closure(jobs, "publish") - {"version"})))
    for env in envs:
        upstream = closure(jobs, f"deploy-{env}")
        facts.add(f"{env}: deployed after " + ", ".join(sorted(n for n in upstream if n.startswith("verify-")
                                                                   or n == "publish")))
    return facts


# ------------------------------------------------------------------------------------------------ GitHub
def sequence_facts(env: str, steps: set[str], approved: bool, target: str) -> set[str]:
    """What the deploy command's sequence enforces (its order is stages/deploy_sequence.py's, tested there)."""
    if target != env:
        return set()
    facts = set()
    if approved and {"record-approvals", "gate"} <= steps:
        facts.add(f"{env}: approvals recorded before the gate")
    if "gate" in steps:
        facts.add(f"{env}: required-checks gate before deploying")
        if "change-ticket" in steps:
            facts.add(f"{env}: change ticket at the gate")
    if "notify" in steps:
        facts.add(f"{env}: start and result announced")
    if "evidence-bundle" in steps:
        facts.add(f"{env}: compliance evidence bundle")
    return facts


def github_facts(repo: Path) -> set[str]:
    text = (repo / ".github" / "workflows" / "deploy.yml").read_text()
    jobs = yaml.safe_load(text)["jobs"]
    rollback_file = repo / ".github" / "workflows" / "rollback.yml"
    manual = yaml.safe_load(rollback_file.read_text()) if rollback_file.exists() else {}
    triggers = manual.get("on", manual.get(True)) or {}
    manual_envs = triggers["workflow_dispatch"]["inputs"]["environment"]["options"] if triggers else []
    envs = [name.removeprefix("deploy-") for name in jobs if name.startswith("deploy-")]
    facts = pipeline_facts(jobs, envs)

    def steps(job: str) -> list[tuple[str, dict]]:
        found = []
        for step in jobs[job]["steps"]:
            uses = step.get("uses", "")
            if uses.startswith("bayat/deploy-action"):
                name = uses.split("@")[0].removeprefix("bayat/deploy-action").strip("/").removeprefix("actions/")
                found.append((name or step["with"]["command"], step.get("with", {})))
        return found

    publish_env = jobs["publish"].get("environment")
    if publish_env:
        made = [name for name, _ in steps("publish")]
        if made[:3] == ["approvals", "gate", "publish"]:
            facts.add(f"publish behind the approval and gate of {publish_env}")
    maintenance_file = repo / ".github" / "workflows" / "maintenance.yml"
    if maintenance_file.exists():
        scheduled = yaml.safe_load(maintenance_file.read_text())
        for name, job in scheduled["jobs"].items():
            announce = [s for s in job["steps"] if s.get("uses", "").startswith("bayat/deploy-action/actions/window")
                        and s["with"].get("command") == "announce"]
            if (scheduled.get("on") or scheduled[True]).get("schedule") and announce:
                facts.add(f"{announce[0]['with']['environment']}: maintenance announced on a schedule")
    proposed = yaml.safe_load((repo / ".github" / "workflows" / "pull-request.yml").read_text())
    facts.add("pull/merge requests run " + ", ".join(sorted(proposed["jobs"])))
    if ("version", {"command": "tag", "push": True}) in steps("publish"):
        facts.add("release tag pushed after publishing")
    for env in envs:
        deploy = f"deploy-{env}"
        done = steps(deploy)
        names = [name for name, _ in done]
        environment = jobs[deploy]["environment"]
        facts.add(f"{env}: environment {environment['name']} {environment.get('url')}")
        chain = [job for job in jobs if job.startswith(f"approve-{env}-") and job not in
                 (f"approve-{e}-" for e in envs if e != env) and "approvals" in dict(steps(job))
                 and dict(steps(job))["approvals"]["environment"] == env]
        parties = [re.search(r"Approval Gates, [^:]+: (.+) \(\d+ of \d+\)\.", comment_above(text, job, 2)).group(1)
                   for job in chain]
        final = re.search(r"Approval Gates, [^:]+: (.+?)\. Required Checks", comment_above(text, deploy, 2)).group(1)
        if final != "automated checks only":
            parties.append(final)
        if parties:
            facts.add(f"{env}: approval parties " + " | ".join(parties))
        deploying = [w for n, w in done if n == "deploy"]
        assert len(deploying) == 1 and names[-1] == "deploy", names  # the sequence is the deploy command's
        sequence = {key for key, value in deploying[0].items() if value is True}
        if "change-ticket" in deploying[0]:
            sequence.add("change-ticket")
        facts |= sequence_facts(env, sequence, bool(parties), deploying[0]["environment"])
        if jobs[deploy]["concurrency"]["cancel-in-progress"] is False and env in jobs[deploy]["concurrency"]["group"]:
            facts.add(f"{env}: one deployment at a time, never cancelled")
        window = f"window-{env}"
        if window in jobs and dict(steps(window))["window"]["environment"] == env:
            facts.add(f"{env}: maintenance window checked")
            if "!inputs.emergency" in jobs[window]["if"]:
                facts.add(f"{env}: window check skipped in an emergency")
            if window in needs_of(jobs[deploy]):
                facts.add(f"{env}: deploy waits for the window")
        emergency = f"emergency-{env}"
        if emergency in jobs:
            made = dict(steps(emergency))
            facts.add(f"{env}: emergency approval in {jobs[emergency]['environment']}")
            if made["approvals"].get("rule") == "emergency" and made["window"].get("emergency") is True \
                    and "reason" in made["window"]:
                facts.add(f"{env}: emergency opens the window with a reason")
            if emergency in needs_of(jobs[deploy]):
                facts.add(f"{env}: deploy waits for the emergency")
        verify = dict(steps(f"verify-{env}"))
        if verify["verify"]["environment"] == env:
            facts.add(f"{env}: verified")
        if verify.get("test", {}).get("kind") == "performance":
            facts.add(f"{env}: performance test after deploying")
        if "monitor" in verify:
            facts.add(f"{env}: monitored after deploying")
        rollback = jobs.get(f"rollback-{env}")
        if rollback and rollback["if"].startswith("${{ failure()") and {deploy, f"verify-{env}"} <= set(
                needs_of(rollback)):
            facts.add(f"{env}: rollback when the deployment or its verification fails")
            if dict(steps(f"rollback-{env}")).get("rollback", {}).get("notify") is True:
                facts.add(f"{env}: rollback announced")
        if env in manual_envs:
            facts.add(f"{env}: rollback by hand")
    return facts


# ------------------------------------------------------------------------------------------------ GitLab
def gitlab_facts(repo: Path) -> set[str]:
    text = (repo / ".gitlab-ci.yml").read_text()
    document = yaml.safe_load(text)
    jobs = {name: job for name, job in document.items() if isinstance(job, dict) and "script" in job}
    envs = [name.removeprefix("deploy-") for name in jobs if name.startswith("deploy-")]
    facts = pipeline_facts(jobs, envs)

    def commands(job: str, key: str = "script") -> list[str]:
        found = []
        for block in jobs[job].get(key, []):
            for line in block.splitlines():
                match = re.search(r'(?:^|")?(?:\$BAYAT_VENV/bin/)?bayat-deploy"? (.*)$', line.strip())
                if match and not line.strip().startswith("#"):
                    found.append(match.group(1))
        return found

    publish_env = (jobs["publish"].get("environment") or {}).get("name")
    if publish_env:
        made = commands("publish")
        if [line.split()[0] for line in made[:3]] == ["approvals", "gate", "publish"]:
            facts.add(f"publish behind the approval and gate of {publish_env}")
    if {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'} in document["workflow"]["rules"]:
        facts.add("pull/merge requests run " + ", ".join(sorted(
            name for name, job in jobs.items() if not name.startswith(".") and runs_for(job, MERGE_REQUEST))))
    facts |= {f"{name.removeprefix('announce-')}: maintenance announced on a schedule" for name, job in jobs.items()
              if name.startswith("announce-") and job["rules"] == [{"if": SCHEDULE}]
              and any("window announce --env" in line for line in job["script"])}
    if "version tag --push" in commands("publish"):
        facts.add("release tag pushed after publishing")
    for env in envs:
        deploy = f"deploy-{env}"
        done = commands(deploy)
        after = commands(deploy, "after_script")
        environment = jobs[deploy]["environment"]
        facts.add(f"{env}: environment {environment['name']} {environment.get('url')}")
        gates = re.search(r"Approval Gates, [^:]+: (.+?)(?:: \d+ approval rules|, the approval rule|\. Required)",
                          comment_above(text, deploy, 0)).group(1)
        manual = {"when": "manual", "allow_failure": False} in jobs[deploy].get("rules", [])
        if gates != "automated checks only" and manual:
            facts.add(f"{env}: approval parties " + " | ".join(gates.split(", then ")))
        deploying = [line for line in done if line.startswith("deploy ")]
        assert len(deploying) == 1 and done == deploying and not after, done  # the sequence is the deploy command's
        flags = set(re.findall(r" --([a-z-]+)", deploying[0]))
        target = re.search(r"--env (\S+)", deploying[0]).group(1)
        facts |= sequence_facts(env, flags, gates != "automated checks only" and manual, target)
        if jobs[deploy]["resource_group"] == env and jobs[deploy]["interruptible"] is False:
            facts.add(f"{env}: one deployment at a time, never cancelled")
        window = f"window-{env}"
        if window in jobs and commands(window) == [f"window check --env {env}"]:
            facts.add(f"{env}: maintenance window checked")
            if {"if": '$BAYAT_EMERGENCY == "true"', "when": "never"} in jobs[window]["rules"]:
                facts.add(f"{env}: window check skipped in an emergency")
            if window in needs_of(jobs[deploy]):
                facts.add(f"{env}: deploy waits for the window")
        emergency = f"emergency-{env}"
        if emergency in jobs:
            made = commands(emergency)
            facts.add(f"{env}: emergency approval in {jobs[emergency]['environment']['name']}")
            if f"approvals record --env {env} --rule emergency" in made and any(
                    line.startswith(f"window check --env {env} --emergency --reason") for line in made):
                facts.add(f"{env}: emergency opens the window with a reason")
            if emergency in needs_of(jobs[deploy]):
                facts.add(f"{env}: deploy waits for the emergency")
        verify = commands(f"verify-{env}")
        if any(line.startswith(f"verify --env {env}") for line in verify):
            facts.add(f"{env}: verified")
        if f"test --kind performance --env {env}" in verify:
            facts.add(f"{env}: performance test after deploying")
        if any(line.startswith(f"monitor --env {env}") for line in verify):
            facts.add(f"{env}: monitored after deploying")
        rollback = jobs.get(f"rollback-{env}")
        on_failure = rollback and (rollback.get("when") == "on_failure"
                                   or rollback.get("rules", [{}])[-1] == {"when": "on_failure"})
        if on_failure and needs_of(rollback) == [deploy, f"verify-{env}"]:
            facts.add(f"{env}: rollback when the deployment or its verification fails")
            if any(line.startswith("rollback ") and line.endswith(" --notify") for line in commands(f"rollback-{env}")):
                facts.add(f"{env}: rollback announced")
        by_hand = jobs.get(f"rollback-{env}-manual")
        if by_hand and by_hand["rules"][-1]["when"] == "manual" and any(line.startswith(f"rollback --env {env}")
                                                           for line in commands(f"rollback-{env}-manual")):
            facts.add(f"{env}: rollback by hand")
    return facts


MERGE_REQUEST = '$CI_PIPELINE_SOURCE == "merge_request_event"'
SCHEDULE = '$CI_PIPELINE_SOURCE == "schedule"'


def runs_for(job: dict, source: str) -> bool:
    """Does a GitLab job run in a pipeline whose only distinguishing condition is `source`? (The first rule
    that matches decides: an `if:` matches only when it is `source` itself; a rule without `if:` always.)"""
    if "rules" not in job:
        return job.get("when") != "never"
    for rule in job["rules"]:
        if "if" in rule and rule["if"] != source:
            continue
        return rule.get("when") != "never"
    return False


def compare(github: set[str], gitlab: set[str]) -> list[str]:
    return ([f"only on GitHub: {fact}" for fact in sorted(github - gitlab)]
            + [f"only on GitLab: {fact}" for fact in sorted(gitlab - github)])


@pytest.mark.parametrize("policy", POLICIES, ids=policy_id)
def test_both_platforms_enforce_the_same_gates(rendered, policy):
    github, gitlab = github_facts(rendered[policy]), gitlab_facts(rendered[policy])
    assert compare(github, gitlab) == []
    loaded = load_policy(policy).policy
    if loaded.kind == "library":  # published behind production's approval; no environment is deployed
        assert "publish behind the approval and gate of production" in gitlab
        assert not any(fact.startswith(tuple(f"{env}:" for env in loaded.environments)) for fact in gitlab), gitlab
        return
    for env in loaded.environments:  # every environment is covered, with its gate and both rollbacks
        assert {f"{env}: required-checks gate before deploying", f"{env}: verified", f"{env}: rollback by hand",
                f"{env}: rollback when the deployment or its verification fails"} <= gitlab, env


def test_the_example_has_every_kind_of_gate(rendered):
    facts = gitlab_facts(rendered[EXAMPLE])
    assert {"staging: approval parties QA approval | Product owner sign-off",
            "testing: approval parties Lead developer approval", "production: change ticket at the gate",
            "production: maintenance window checked", "production: deploy waits for the emergency",
            "production: emergency approval in production-emergency",
            "production: emergency opens the window with a reason", "production: compliance evidence bundle",
            "staging: performance test after deploying", "development: monitored after deploying",
            "production: deployed after publish, verify-development, verify-staging, verify-testing"} <= facts


def test_a_gate_missing_on_one_platform_is_found(rendered, tmp_path):
    """The comparison is not vacuous: drop production's window job from the GitLab file and its change ticket,
    and the differences name them."""
    repo = tmp_path / "broken"
    shutil.copytree(rendered[EXAMPLE], repo)
    path = repo / ".gitlab-ci.yml"
    text = path.read_text()
    window = text[text.index("# Maintenance Windows, production"):text.index("# Emergency Maintenance")]
    text = text.replace(window, "").replace("    - job: window-production\n      optional: true\n", "")
    path.write_text(text.replace(' --change-ticket "$CHANGE_TICKET"', ""))
    assert "window-production" not in path.read_text()
    differences = compare(github_facts(repo), gitlab_facts(repo))
    assert "only on GitHub: production: change ticket at the gate" in differences
    assert "only on GitHub: production: maintenance window checked" in differences
    assert "only on GitHub: production: deploy waits for the window" in differences
