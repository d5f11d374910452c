"""Golden tests over the policy corpus: every broken policy fails with exactly the expected errors.

Each `corpus/broken/NAME.yml` has `NAME.expected`, the exact stderr of `bayat-deploy policy validate`.
Regenerate after an intended change with `pytest tests/policy/test_corpus.py --update-golden` and
review the diff like code.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bayat_deploy.policy import catalogue

CORPUS = Path(__file__).parent / "corpus"
BROKEN = sorted((CORPUS / "broken").glob("*.yml"))
OK = sorted((CORPUS / "ok").glob("*.yml"))
DIAGNOSTIC = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<col>\d+): error: (?P<path>[^:]*): (?P<message>.+) "
                        r"\[(?P<rule>[a-z-]+)\]$")


def _listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_the_corpus_is_large_enough():
    assert len(BROKEN) >= 30


@pytest.mark.parametrize("policy", BROKEN, ids=lambda p: p.stem)
def test_broken_policy_is_rejected_with_position_and_field(policy, bayat, tmp_path, update_golden):
    shutil.copy(policy, tmp_path / policy.name)
    before = _listing(tmp_path)

    result = bayat("policy", "validate", "--policy", policy.name)

    assert result.code == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    assert _listing(tmp_path) == before, "validation must not write any file"
    lines = result.stderr.splitlines()
    errors = [DIAGNOSTIC.match(line) for line in lines[:-1]]
    assert errors and all(errors), f"every line must be FILE:LINE:COL: error: path: message [rule]\n{result.stderr}"
    assert all(m["file"] == policy.name and int(m["line"]) >= 1 for m in errors)
    assert all(catalogue.known(m["rule"]) for m in errors), "every rule is in docs/errors.md's catalogue"
    assert lines[-1].endswith("error(s) in the deployment policy")

    golden = policy.with_suffix(".expected")
    if update_golden or not golden.exists():
        golden.write_text(result.stderr)
    assert result.stderr == golden.read_text()


@pytest.mark.parametrize("policy", OK, ids=lambda p: p.stem)
def test_ok_policy_validates(policy, bayat):
    result = bayat("policy", "validate", "--policy", str(policy))
    assert result.code == 0, result.stderr
    assert "error" not in result.stderr


def test_every_error_in_a_file_is_reported_in_one_run(bayat):
    result = bayat("policy", "validate", "--policy", str(CORPUS / "broken" / "50-several-errors-at-once.yml"))
    fields = [DIAGNOSTIC.match(line)["path"] for line in result.stderr.splitlines()[:-1]]
    assert fields == ["team", "scan.severity", "environments.staging.resources.replicas",
                      "environments.production.maintenance.windows[0].cron"]


def test_verbose_mode_is_the_only_way_to_a_traceback(bayat, tmp_path):
    (tmp_path / "p.yml").write_text("project: Not Valid\n")
    quiet = bayat("policy", "validate", "--policy", "p.yml")
    loud = bayat("-v", "policy", "validate", "--policy", "p.yml")
    assert quiet.code == loud.code == 2
    assert "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr
