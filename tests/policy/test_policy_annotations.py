"""Policy errors name their rule, and on GitHub they are also annotations on the file and line: the pull
request shows them where the policy is wrong, not only in the job's log."""

from __future__ import annotations

import pytest

from bayat_deploy.errors import Diagnostic
from bayat_deploy.policy import catalogue

BROKEN = "project: shop\nenviroments: {}\nscan:\n  severity: LOW2\n"


def test_a_diagnostic_prints_its_rule_last():
    found = Diagnostic(".bayat/deploy.yml", 2, 1, "enviroments", "unknown key", rule="unknown-key")
    assert found.format() == ".bayat/deploy.yml:2:1: error: enviroments: unknown key [unknown-key]"


def test_every_rule_is_catalogued_once_with_what_it_asks_for():
    rules = catalogue.rules()
    names = [name for name, _ in rules]
    assert len(names) == len(set(names))
    assert all(text.endswith(".") or text.endswith(")") for _, text in rules), rules
    assert "ports-do-not-clash" in names and "unknown-key" in names


def test_on_github_policy_errors_are_annotations_relative_to_the_workspace(bayat, tmp_path):
    service = tmp_path / "services" / "shop"
    (service / ".bayat").mkdir(parents=True)
    (service / ".bayat" / "deploy.yml").write_text(BROKEN)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path), "GITLAB_CI": ""}

    result = bayat("policy", "validate", cwd=service, env=env)

    assert result.code == 2
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations == [
        "::error file=services/shop/.bayat/deploy.yml,line=2,col=1,title=unknown-key::enviroments: unknown key "
        "'enviroments' (did you mean 'environments'?)",
        "::error file=services/shop/.bayat/deploy.yml,line=4,col=13,title=format::scan.severity: 'LOW2' is not a "
        "severity; use one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL",
    ]
    assert "[unknown-key]" in result.stderr  # the log keeps the terminal form too


@pytest.mark.parametrize("env", [{"GITHUB_ACTIONS": "", "GITLAB_CI": ""},
                                 {"GITHUB_ACTIONS": "", "GITLAB_CI": "true"}], ids=["laptop", "gitlab"])
def test_elsewhere_the_errors_are_printed_once(bayat, tmp_path, env):
    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text(BROKEN)

    result = bayat("policy", "validate", cwd=tmp_path, env=env)

    assert result.code == 2 and "::error" not in result.stdout
    assert result.stderr.count("unknown key 'enviroments'") == 1
