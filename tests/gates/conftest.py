"""Gate fixtures: a scratch repository with a policy, an evidence directory, and the CLI run as a user would."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, Result

# The tests decide who runs the command and where; nothing from the developer's CI may leak in.
CLEAN_ENV = {"GITHUB_ACTIONS": "", "GITLAB_CI": "", "CHANGE_TICKET": "", "USER": "ci-runner"}


def run_bayat(*args: str, cwd: Path, env: dict | None = None, timeout: float = 60) -> Result:
    proc = subprocess.run([str(BIN / "bayat-deploy"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **CLEAN_ENV, **(env or {})})
    return Result(proc.returncode, proc.stdout, proc.stderr)


class GateRepo:
    """A git repository with `.bayat/deploy.yml`; `.run(...)` calls bayat-deploy in it."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
        (root / "README.md").write_text("gates\n")
        subprocess.run(["git", "add", "."], cwd=root, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m",
                        "init"], cwd=root, check=True)
        self.sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                  check=True).stdout.strip()

    @property
    def evidence(self) -> Path:
        return self.root / ".bayat" / "evidence"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def policy(self, document: dict) -> None:
        document = {"target": {"type": "docker-host", "state_dir": str(self.state / "{environment}")},
                    **document}
        (self.root / ".bayat").mkdir(exist_ok=True)
        (self.root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(document, sort_keys=False))

    def run(self, *args: str, env: dict | None = None) -> Result:
        return run_bayat(*args, cwd=self.root, env=env)

    def records(self, environment: str) -> list[dict]:
        import json

        path = self.state / environment / "records.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def gate_repo(tmp_path) -> GateRepo:
    return GateRepo(tmp_path / "repo")


# ------------------------------------------------------------------------------------------- evidence
def write_evidence(directory: Path, stage: str, environment: str | None = None, *, commit: str,
                   version: str | None = None, status: str = "pass", summary: dict | None = None,
                   details: dict | None = None, findings: list | None = None, artifacts: list | None = None,
                   triggered_by: str = "ci-runner") -> Path:
    """An evidence envelope as the stage would write it (same dataclass, same file name)."""
    from bayat_deploy import evidence
    from bayat_deploy.evidence import Artifact, Envelope, Finding

    envelope = Envelope(stage=stage, status=status, started=evidence.now(), finished=evidence.now(),
                        duration_seconds=0.1, environment=environment, version=version, commit=commit, ref="main",
                        triggered_by=triggered_by, summary=summary or {}, details=details or {},
                        findings=[Finding(**f) for f in findings or []],
                        artifacts=[Artifact(**a) for a in artifacts or []])
    return evidence.write(directory, envelope)


VERSION = "1.4.0"


def passing_evidence(repo: GateRepo, *, environment: str = "production", version: str = VERSION) -> dict[str, Path]:
    """Everything a production gate and bundle need, all passing, all for the repository's HEAD commit."""
    root, commit, directory = repo.root, repo.sha, repo.evidence
    sbom = root / ".bayat" / "sbom" / "demo.spdx.json"
    sbom.parent.mkdir(parents=True, exist_ok=True)
    sbom.write_text('{"spdxVersion": "SPDX-2.3"}\n')
    import hashlib

    notes = root / ".bayat" / "release-notes" / f"{version}.md"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text(f"# {version}\n")
    written = {
        "test.json": write_evidence(directory, "test", commit=commit, summary={
            "tests": 12, "passed": 12, "failed": 0, "errors": 0, "skipped": 0, "performance": "not run"}),
        "test-staging.json": write_evidence(directory, "test", "staging", commit=commit, summary={
            "tests": 0, "performance": "pass"}, details={"performance": {
                "method": "probe", "latency_ms": {"p95": 12.5}, "error_rate": 0.0, "breaches": []}}),
        "scan.json": write_evidence(directory, "scan", commit=commit, summary={
            "gate": "HIGH", "blocking": 0, "ignored": 1, "total": 3}),
        "infrastructure.json": write_evidence(directory, "infrastructure", commit=commit, summary={
            "checks": 2, "failed": 0}),
        "release-notes.json": write_evidence(directory, "release-notes", commit=commit, version=version, details={
            "complete": True, "missing": [], "required_for_environment": True, "environment": environment,
            "markdown": str(notes)}),
        f"config-{environment}.json": write_evidence(directory, "config", environment, commit=commit,
                                                     summary={"keys": 3}),
        "build.json": write_evidence(directory, "build", commit=commit, version=version, artifacts=[
            {"type": "docker-image", "name": "demo", "reference": f"registry.example/demo:{version}",
             "digest": "sha256:" + "1" * 64},
            {"type": "sbom", "name": "demo", "reference": f"registry.example/demo:{version}",
             "digest": hashlib.sha256(sbom.read_bytes()).hexdigest(), "path": ".bayat/sbom/demo.spdx.json"}]),
        "signature.json": write_evidence(directory, "signature", commit=commit, details={
            "image": f"registry.example/demo:{version}", "digest": "sha256:" + "1" * 64, "verified": True,
            "reason": "good signature", "method": "gpg", "key": "ABCD"}),
    }
    result = repo.run("approvals", "record", "--env", environment, "--approved-by", "alice", "--rule", "management",
                      "--comment", "ship it")
    assert result.code in (0, 1), result.stderr
    result = repo.run("approvals", "record", "--env", environment, "--approved-by", "sam", "--rule",
                      "security-signoff")
    assert result.code == 0, result.stdout + result.stderr
    written[f"approvals-{environment}.json"] = directory / f"approvals-{environment}.json"
    return written


ALWAYS_OPEN = {"cron": "0 * * * *", "duration": "2h", "description": "always open (tests)"}
NEVER_OPEN_NOW = {"cron": "0 0 1 1 *", "duration": "1m", "description": "New Year's minute"}


def production_policy(window: dict = ALWAYS_OPEN, **top) -> dict:
    """A regulated project whose production gate runs every check there is."""
    return {
        "project": "demo",
        "compliance": {"regulated": True, "security_signoff": {"groups": [], "users": ["sam"]}},
        "environments": {"production": {
            "approvals": {"rules": [{"name": "management", "users": ["alice", "bob"]}]},
            "checks": ["tests", "security-scan", "infrastructure", "approvals", "release-notes", "performance",
                       "change-ticket", "config"],
            "maintenance": {"windows": [window], "enforce": True,
                            "emergency": {"allowed": True, "approvers": ["alice", "management"]}},
        }},
        **top,
    }
