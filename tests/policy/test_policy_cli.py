"""`bayat-deploy policy ...` as a user runs it."""

from __future__ import annotations

import json

import yaml

from bayat_deploy import __version__


def test_version(bayat):
    result = bayat("--version")
    assert result.code == 0 and result.stdout.strip() == f"bayat-deploy {__version__}"


def test_show_expands_a_one_line_policy_to_the_standard(bayat, tmp_path):
    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text("project: demo\n")

    result = bayat("policy", "show")

    assert result.code == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert list(shown["environments"]) == ["development", "testing", "staging", "production"]
    production = shown["environments"]["production"]
    assert production["approvals"]["rules"][0]["groups"] == ["management"]
    assert production["maintenance"]["windows"][0] | {} == {
        "cron": "0 2 * * SUN", "duration": "3h", "timezone": "UTC", "every_weeks": 1, "anchor": None,
        "description": "Weekly production maintenance (lowest traffic)"}
    assert [r["name"] for r in shown["environments"]["staging"]["approvals"]["rules"]] == ["qa", "product-owner"]
    assert shown["scan"]["severity"] == "HIGH"


def test_show_as_json_and_for_one_environment(bayat, tmp_path):
    (tmp_path / "p.yml").write_text("project: demo\n")
    whole = json.loads(bayat("policy", "show", "--policy", "p.yml", "--format", "json").stdout)
    assert whole["project"] == "demo"
    one = yaml.safe_load(bayat("policy", "show", "--policy", "p.yml", "--env", "staging").stdout)
    assert one["tier"] == "staging" and one["strategy"]["type"] == "blue-green"


def test_show_unknown_environment_is_bad_input(bayat, tmp_path):
    (tmp_path / "p.yml").write_text("project: demo\n")
    result = bayat("policy", "show", "--policy", "p.yml", "--env", "prod")
    assert result.code == 2
    assert "unknown environment 'prod'" in result.stderr and "production" in result.stderr


def test_policy_flag_works_before_the_command_too(bayat, tmp_path):
    (tmp_path / "p.yml").write_text("project: demo\n")
    assert bayat("--policy", "p.yml", "policy", "validate").code == 0


def test_missing_policy_file(bayat):
    result = bayat("policy", "validate")
    assert result.code == 2
    assert result.stderr.startswith(".bayat/deploy.yml:1:1: error: file not found")


def test_schema_is_json(bayat):
    result = bayat("policy", "schema")
    assert result.code == 0
    assert json.loads(result.stdout)["required"] == ["project"]


def test_warnings_are_printed_but_do_not_fail(bayat, tmp_path):
    (tmp_path / "p.yml").write_text("project: demo\nenvironments:\n  production:\n    maintenance: {enforce: false}\n")
    result = bayat("policy", "validate", "--policy", "p.yml")
    assert result.code == 0
    assert "p.yml:4:19: warning: environments.production.maintenance.enforce:" in result.stderr


def test_usage_errors_exit_2(bayat):
    assert bayat("no-such-command").code == 2
    assert bayat("policy").code == 2
    assert bayat().code == 2
