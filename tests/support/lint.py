"""The real linters every generated pipeline must pass: actionlint, GitHub's workflow schema and zizmor for
GitHub, GitLab's CI schema for GitLab."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.tools import actionlint, tool


def assert_workflows_pass(repo: Path, *, min_severity: str | None = None) -> None:
    """Every workflow of `repo` passes actionlint, the schema and zizmor (findings at `min_severity` and above;
    None: every finding counts)."""
    workflows = sorted(str(p) for p in (repo / ".github" / "workflows").glob("*.yml"))
    assert workflows, f"no workflows in {repo}"
    lint = subprocess.run(actionlint(repo, *workflows), capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    schema = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *workflows],
                            capture_output=True, text=True)
    assert schema.returncode == 0, schema.stdout + schema.stderr
    severity = ["--min-severity", min_severity] if min_severity else []
    audit = subprocess.run([tool("zizmor"), "--offline", "--format", "json", *severity,
                            str(repo / ".github" / "workflows")], capture_output=True, text=True, cwd=repo)
    findings = json.loads(audit.stdout or "[]")
    assert findings == [], [f"{f['ident']}: {f['desc']}" for f in findings]


def assert_gitlab_passes(*paths: Path) -> None:
    checked = subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", *map(str, paths)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
