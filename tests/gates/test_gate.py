"""The required-checks gate: everything present passes; take any one piece of evidence away and the gate
fails with a line naming the check and the file; stale and failed evidence fail too (fail closed)."""

from __future__ import annotations

import json

import pytest

from tests.gates.conftest import NEVER_OPEN_NOW, VERSION, passing_evidence, production_policy, write_evidence

GATE = ("gate", "--env", "production", "--version", VERSION, "--change-ticket", "CHG-42")


@pytest.fixture
def ready(gate_repo):
    """A regulated project's production gate with every piece of evidence present and passing."""
    gate_repo.policy(production_policy())
    passing_evidence(gate_repo)
    return gate_repo


def _line(result, check: str) -> str:
    lines = [line for line in result.stdout.splitlines() if line.startswith(check + " ")]
    assert len(lines) == 1, result.stdout
    return lines[0]


def test_everything_present_passes(ready):
    result = ready.run(*GATE)
    assert result.code == 0, result.stdout + result.stderr
    checks = json.loads((ready.evidence / "gate-production.json").read_text())["details"]["checks"]
    assert [c["check"] for c in checks] == ["tests", "security-scan", "infrastructure", "approvals", "release-notes",
                                            "performance", "change-ticket", "config", "security-signoff",
                                            "maintenance-window"]
    assert all(c["passed"] for c in checks)
    performance = next(c for c in checks if c["check"] == "performance")
    assert performance["evidence"][0]["file"] == ".bayat/evidence/test-staging.json"  # from staging, nearest
    assert all(e["commit"] == ready.sha for c in checks for e in c["evidence"])
    assert "approved by alice (policy users)" in _line(result, "approvals")
    assert "CHG-42" in _line(result, "change-ticket")


REMOVALS = [
    ("tests", "test.json"),
    ("security-scan", "scan.json"),
    ("infrastructure", "infrastructure.json"),
    ("approvals", "approvals-production.json"),
    ("security-signoff", "approvals-production.json"),
    ("release-notes", "release-notes.json"),
    ("performance", "test-staging.json"),
    ("config", "config-production.json"),
]


@pytest.mark.parametrize("check,name", REMOVALS, ids=[f"{c}-{n}" for c, n in REMOVALS])
def test_missing_evidence_fails_naming_check_and_file(ready, check, name):
    (ready.evidence / name).unlink()
    result = ready.run(*GATE)
    assert result.code == 1
    line = _line(result, check)
    assert "FAIL" in line and name in line and "missing" in line
    gate = json.loads((ready.evidence / "gate-production.json").read_text())
    assert check in gate["summary"]["failed"]
    assert any(f["id"] == f"gate.{check}" for f in gate["findings"])


def test_unreadable_evidence_fails(ready):
    (ready.evidence / "scan.json").write_text("{not json")
    line = _line(ready.run(*GATE), "security-scan")
    assert "FAIL" in line and "unreadable" in line and "scan.json" in line


def test_missing_change_ticket_fails(ready):
    result = ready.run("gate", "--env", "production", "--version", VERSION)
    assert result.code == 1
    assert "no change ticket" in _line(result, "change-ticket")


@pytest.mark.parametrize("ticket,passes", [("CHG-42", True), ("chg-42", False), ("42", False)])
def test_change_ticket_from_the_environment_must_match_the_pattern(ready, ticket, passes):
    result = ready.run("gate", "--env", "production", "--version", VERSION, env={"CHANGE_TICKET": ticket})
    assert (result.code == 0) is passes, result.stdout
    line = _line(result, "change-ticket")
    assert ("pass" in line) is passes and "CHANGE_TICKET" in line


@pytest.mark.parametrize("name,stage,environment", [
    ("test.json", "test", None), ("scan.json", "scan", None), ("config-production.json", "config", "production"),
    ("test-staging.json", "test", "staging"),
])
def test_stale_commit_fails(ready, name, stage, environment):
    original = json.loads((ready.evidence / name).read_text())
    write_evidence(ready.evidence, stage, environment, commit="0" * 40, summary=original["summary"],
                   details=original["details"])
    result = ready.run(*GATE)
    assert result.code == 1
    assert f"stale: {name} is for commit 000000000000" in result.stdout


def test_evidence_for_another_version_fails(ready):
    result = ready.run("gate", "--env", "production", "--version", "1.5.0", "--change-ticket", "CHG-42")
    assert result.code == 1
    line = _line(result, "release-notes")
    assert "stale: release-notes.json is for version 1.4.0, the gate checks 1.5.0" in line


@pytest.mark.parametrize("check,stage,environment,summary,reason", [
    ("tests", "test", None, {"tests": 12, "passed": 10, "failed": 2}, "test.json says fail: 2 failed"),
    ("security-scan", "scan", None, {"gate": "HIGH", "blocking": 3}, "scan.json says fail: 3 blocking"),
    ("infrastructure", "infrastructure", None, {"checks": 2, "failed": 1}, "infrastructure.json says fail"),
    ("config", "config", "production", {"keys": 3}, "config-production.json says fail"),
])
def test_a_failed_stage_fails_the_gate(ready, check, stage, environment, summary, reason):
    write_evidence(ready.evidence, stage, environment, commit=ready.sha, status="fail", summary=summary,
                   findings=[{"id": "x", "severity": "HIGH", "title": "the reason it failed", "tool": "t",
                              "blocking": True}])
    result = ready.run(*GATE)
    assert result.code == 1
    line = _line(result, check)
    assert reason in line and "the reason it failed" in line


def test_failed_performance_in_staging_fails_production(ready):
    write_evidence(ready.evidence, "test", "staging", commit=ready.sha, status="fail",
                   summary={"performance": "fail"},
                   details={"performance": {"method": "probe", "breaches": ["p95 latency 900 ms > 500 ms"]}})
    line = _line(ready.run(*GATE), "performance")
    assert "FAIL" in line and "p95 latency 900 ms > 500 ms" in line and "test-staging.json" in line


def test_production_own_performance_evidence_is_nearest(ready):
    write_evidence(ready.evidence, "test", "production", commit=ready.sha, summary={"performance": "pass"},
                   details={"performance": {"method": "probe", "breaches": []}})
    assert "performance test in production passed" in _line(ready.run(*GATE), "performance")


def test_incomplete_release_notes_fail_where_required(ready):
    write_evidence(ready.evidence, "release-notes", commit=ready.sha, version=VERSION,
                   details={"complete": False, "missing": ["rollback_plan"]})
    line = _line(ready.run(*GATE), "release-notes")
    assert "FAIL" in line and "rollback_plan" in line and "release-notes.json" in line


def test_unmet_approval_rule_fails(ready):
    ready.run("approvals", "record", "--env", "production", "--approved-by", "mallory")
    # mallory is not in the rule; the earlier attestations (alice, sam) are kept
    assert ready.run(*GATE).code == 0
    (ready.evidence / "approvals-production.json").unlink()
    ready.run("approvals", "record", "--env", "production", "--approved-by", "sam", "--rule", "security-signoff")
    line = _line(ready.run(*GATE), "approvals")
    assert "FAIL" in line and "management: needs 1 approval(s) from user alice, user bob; has 0 of 1" in line


def test_self_approval_does_not_count(ready):
    result = ready.run(*GATE, env={"USER": "alice"})  # alice runs the deploy she approved
    line = _line(result, "approvals")
    assert result.code == 1 and "alice started this run (self-review)" in line


def test_closed_window_fails_until_an_emergency_override(gate_repo):
    gate_repo.policy(production_policy(window=NEVER_OPEN_NOW))
    passing_evidence(gate_repo)
    result = gate_repo.run(*GATE)
    assert result.code == 1
    line = _line(result, "maintenance-window")
    assert "outside every maintenance window" in line and "window-production.json" in line
    assert "Fri 2027-01-01 00:00 UTC" in line or "next opening" in line

    override = gate_repo.run("window", "check", "--env", "production", "--emergency", "--reason", "INC-11",
                             "--approved-by", "alice")
    assert override.code == 0, override.stdout + override.stderr
    result = gate_repo.run(*GATE)
    assert result.code == 0, result.stdout
    assert "EMERGENCY override" in _line(result, "maintenance-window")


def test_an_override_for_another_commit_does_not_open_the_gate(gate_repo):
    gate_repo.policy(production_policy(window=NEVER_OPEN_NOW))
    passing_evidence(gate_repo)
    write_evidence(gate_repo.evidence, "window", "production", commit="f" * 40,
                   details={"decision": "emergency", "override": {"granted": True, "why": "x", "reason": "y"}})
    line = _line(gate_repo.run(*GATE), "maintenance-window")
    assert "FAIL" in line and "stale: window-production.json is for commit ffffffffffff" in line


def test_development_has_no_approval_rules_to_meet(gate_repo):
    gate_repo.policy({"project": "demo"})
    for stage in ("test", "scan", "infrastructure"):
        write_evidence(gate_repo.evidence, stage, commit=gate_repo.sha)
    write_evidence(gate_repo.evidence, "release-notes", commit=gate_repo.sha, details={"complete": False})
    result = gate_repo.run("gate", "--env", "development")
    assert result.code == 0, result.stdout
    assert "no approval rules for development" in _line(result, "approvals")
    assert "present (complete notes are required only for production)" in _line(result, "release-notes")


def test_unknown_environment_is_bad_input(ready):
    result = ready.run("gate", "--env", "prod")
    assert result.code == 2 and "unknown environment 'prod'" in result.stderr


def test_the_standard_gates_performance_where_it_can_be_true(tmp_path):
    """Staging's performance test runs after staging is deployed, so only production's gate requires it,
    and production's evidence comes from staging until production has its own."""
    from types import SimpleNamespace

    from bayat_deploy.gates.gate import Gate
    from bayat_deploy.policy.loader import load_policy

    (tmp_path / "deploy.yml").write_text("project: demo\n")
    policy = load_policy(tmp_path / "deploy.yml").policy
    assert "performance" not in policy.environments["staging"].checks
    assert "performance" in policy.environments["production"].checks
    session = SimpleNamespace(policy=policy, context=SimpleNamespace(sha="", get=lambda name, default="": default))
    chains = {name: Gate(session, name, now=None).performance_chain() for name in policy.environments}
    assert chains == {"development": [], "testing": [], "staging": ["staging"],
                      "production": ["production", "staging"]}
