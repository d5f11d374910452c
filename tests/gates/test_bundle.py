"""The compliance bundle: one JSON (and a Markdown twin) answering who shipped what, checked how; every part
traceable to its evidence file by sha256; missing parts listed; regulated projects fail on a missing part."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.gates.conftest import NEVER_OPEN_NOW, VERSION, passing_evidence, production_policy, write_evidence

RECORD = {"environment": "production", "action": "deploy", "version": VERSION, "outcome": "succeeded",
          "strategy": "blue-green", "image": f"registry.example/demo:{VERSION}", "digest": "sha256:" + "1" * 64,
          "triggered_by": "release-bot", "finished": "2026-03-29T01:20:00+00:00", "previous_version": "1.3.2",
          "id": "1774747200000-42"}


def deployed(repo, *, window: dict | None = None, regulated: bool = True) -> None:
    """A production deployment that went through the gate, with all its evidence."""
    policy = production_policy(**({"window": window} if window else {}))
    policy["compliance"]["regulated"] = regulated
    repo.policy(policy)
    passing_evidence(repo)
    if window is NEVER_OPEN_NOW:
        assert repo.run("window", "check", "--env", "production", "--emergency", "--reason", "INC-12: data loss",
                        "--approved-by", "alice", "--version", VERSION).code == 0
    else:
        assert repo.run("window", "check", "--env", "production").code == 0
    gate = repo.run("gate", "--env", "production", "--version", VERSION, "--change-ticket", "CHG-42")
    assert gate.code == 0, gate.stdout
    write_evidence(repo.evidence, "deploy", "production", commit=repo.sha, version=VERSION,
                   summary={"outcome": "succeeded"}, details={"record": RECORD})


def bundle(repo, *args):
    result = repo.run("evidence", "bundle", "--env", "production", *args)
    path = repo.root / ".bayat" / "reports" / "compliance-production.json"
    return result, (json.loads(path.read_text()) if path.exists() else None), path


def test_complete_bundle_answers_who_what_how(gate_repo):
    deployed(gate_repo)
    result, document, path = bundle(gate_repo)
    assert result.code == 0, result.stdout + result.stderr
    assert document["complete"] and document["missing"] == []
    answer = document["answer"]
    assert answer["who_deployed"] == "release-bot"
    assert [a.split(" ")[0] for a in answer["who_approved"]] == ["alice", "sam"]
    assert answer["what"] == {"version": VERSION, "commit": gate_repo.sha, "image": RECORD["image"],
                              "digest": RECORD["digest"]}
    assert answer["change_ticket"] == "CHG-42" and answer["window"] == "inside" and answer["emergency"] is None
    assert any(line.startswith("security-scan: pass: 0 blocking at HIGH") for line in answer["checked_how"])

    parts = {p["name"]: p for p in document["parts"]}
    assert set(parts) == {"deployment", "gate", "approvals", "change-ticket", "tests", "performance",
                          "security-scan", "infrastructure", "sbom", "signature", "release-notes",
                          "maintenance-window", "config"}
    for part in parts.values():
        assert part["present"], part
        file = gate_repo.root / part["source"]["file"]
        assert part["source"]["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
    assert parts["performance"]["source"]["file"] == ".bayat/evidence/test-staging.json"
    assert parts["sbom"]["summary"]["sboms"][0]["intact"] is True
    assert parts["signature"]["summary"]["verified"] is True
    assert parts["approvals"]["summary"]["approvals"][0]["comment"] == "ship it"
    assert parts["deployment"]["summary"]["record_entry"]["id"] == RECORD["id"]

    markdown = path.with_suffix(".md").read_text()
    assert "| who deployed | release-bot |" in markdown and "| change ticket | CHG-42 |" in markdown
    assert "| signature | yes | yes | `.bayat/evidence/signature.json` |" in markdown


def test_emergency_override_is_in_the_bundle(gate_repo):
    deployed(gate_repo, window=NEVER_OPEN_NOW)
    result, document, path = bundle(gate_repo)
    assert result.code == 0, result.stdout
    emergency = document["answer"]["emergency"]
    assert emergency["reason"] == "INC-12: data loss" and emergency["approved_by"] == ["alice"]
    assert document["answer"]["window"] == "emergency"
    assert "EMERGENCY override: INC-12: data loss" in path.with_suffix(".md").read_text()


@pytest.mark.parametrize("regulated,code", [(True, 1), (False, 0)])
def test_missing_part_is_listed_and_fails_regulated_projects(gate_repo, regulated, code):
    deployed(gate_repo, regulated=regulated)
    (gate_repo.evidence / "signature.json").unlink()
    result, document, _ = bundle(gate_repo, "--output", "out/bundle.json")
    assert result.code == code
    written = json.loads((gate_repo.root / "out" / "bundle.json").read_text())
    assert written["missing"] == ["signature"] and not written["complete"]
    assert (gate_repo.root / "out" / "bundle.md").exists()
    assert "missing: signature: missing: .bayat/evidence/signature.json was not written" in result.stdout


def test_changed_sbom_is_caught(gate_repo):
    deployed(gate_repo)
    (gate_repo.root / ".bayat" / "sbom" / "demo.spdx.json").write_text("{}\n")
    result, document, _ = bundle(gate_repo)
    assert result.code == 1 and document["missing"] == ["sbom"]
    sbom = next(p for p in document["parts"] if p["name"] == "sbom")
    assert "changed since the build" in sbom["problem"]


def test_evidence_of_another_commit_does_not_count(gate_repo):
    deployed(gate_repo)
    write_evidence(gate_repo.evidence, "scan", commit="e" * 40, summary={"gate": "HIGH", "blocking": 0})
    result, document, _ = bundle(gate_repo)
    assert result.code == 1 and document["missing"] == ["security-scan"]
    scan = next(p for p in document["parts"] if p["name"] == "security-scan")
    assert scan["problem"].startswith("stale: scan.json is for commit eeeeeeeeeeee")


def test_nothing_deployed_yet(gate_repo):
    gate_repo.policy(production_policy())
    result, document, _ = bundle(gate_repo)
    assert result.code == 1
    assert "deployment" in document["missing"] and "change-ticket" in document["missing"]
    assert document["answer"]["who_deployed"] is None
