"""The policy as typed objects: a minimal file expands to the whole standard; layering works as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from bayat_deploy.errors import PolicyError
from bayat_deploy.policy.loader import load_policy
from bayat_deploy.policy.model import BlueGreen, Canary, DockerHost, DockerImage, Kubernetes, Rolling
from bayat_deploy.policy.types import Duration


def load(tmp_path: Path, text: str):
    path = tmp_path / "deploy.yml"
    path.write_text(text)
    return load_policy(path)


def test_a_minimal_policy_is_the_whole_standard(tmp_path):
    policy = load(tmp_path, "project: my-service\n").policy

    assert list(policy.environments) == ["development", "testing", "staging", "production"]
    assert [e.tier for e in policy.environments.values()] == list(policy.environments)
    approvals = {name: [(r.name, r.groups) for r in env.approvals.rules] for name, env in policy.environments.items()}
    assert approvals == {
        "development": [],
        "testing": [("lead-developer", ("lead-developers",))],
        "staging": [("qa", ("qa",)), ("product-owner", ("product-owners",))],
        "production": [("management", ("management",))],
    }
    production = policy.environments["production"]
    assert production.change_ticket.required
    (window,) = production.maintenance.windows
    assert (str(window.cron), window.duration, window.timezone.name) == ("0 2 * * SUN", Duration(3 * 3600), "UTC")
    assert production.maintenance.enforce and production.maintenance.emergency.approvers == ("management",)
    staging_window = policy.environments["staging"].maintenance.windows[0]
    assert staging_window.every_weeks == 2 and staging_window.duration == Duration(4 * 3600)
    assert policy.scan.severity.at_or_above() == ("HIGH", "CRITICAL")
    for env in policy.environments.values():
        assert {"tests", "security-scan", "infrastructure", "approvals", "release-notes"} <= set(env.checks)
    assert "change-ticket" in production.checks and "performance" in production.checks
    assert policy.artifacts == (DockerImage(type="docker-image", name="my-service"),)
    assert isinstance(policy.target, DockerHost)
    assert [e.promote_from for e in policy.environments.values()] == [None, "development", "testing", "staging"]
    assert [e.data for e in policy.environments.values()] == ["fake", "sanitized", "production-like", "real"]


def test_defaults_apply_to_every_environment_and_environments_win(tmp_path):
    policy = load(tmp_path, """
project: demo
defaults:
  rollback: { max_duration: 30s }
  resources: { replicas: 2 }
environments:
  production:
    resources: { replicas: 5 }
""").policy
    assert {e.rollback.max_duration for e in policy.environments.values()} == {Duration(30)}
    assert [e.resources.replicas for e in policy.environments.values()] == [2, 2, 2, 5]
    # the standard's production-specific trigger survives a user default that does not mention it
    assert str(policy.environments["production"].rollback.triggers.error_rate) == "1%"


def test_changing_the_strategy_type_does_not_inherit_the_old_parameters(tmp_path):
    policy = load(tmp_path, """
project: demo
monitoring: { url: "http://127.0.0.1:9090" }
defaults:
  strategy: { type: rolling, batch_size: 25% }
environments:
  production:
    strategy: { type: canary }
""").policy
    assert isinstance(policy.environments["development"].strategy, Rolling)
    assert str(policy.environments["development"].strategy.batch_size) == "25%"
    canary = policy.environments["production"].strategy
    assert isinstance(canary, Canary) and [s.weight for s in canary.steps] == [5, 25, 50, 100]
    # a user default outranks the standard's per-environment setting (staging was blue/green)
    assert isinstance(policy.environments["staging"].strategy, Rolling)


def test_environment_target_settings_merge_over_the_shared_target(tmp_path):
    policy = load(tmp_path, """
project: demo
target: { type: kubernetes, chart: deploy/chart }
environments:
  production:
    target: { context: prod-cluster }
""").policy
    production = policy.environments["production"].target
    assert isinstance(production, Kubernetes)
    assert (production.chart, production.context) == ("deploy/chart", "prod-cluster")
    assert policy.environments["staging"].target.context is None


def test_a_new_environment_starts_from_its_tier_and_sorts_into_promotion_order(tmp_path):
    policy = load(tmp_path, """
project: demo
environments:
  production-eu:
    tier: production
    promote_from: production
    target: { port: 8090 }
  qa-extra:
    tier: testing
    target: { port: 8091 }
""").policy
    assert list(policy.environments) == ["development", "testing", "qa-extra", "staging", "production",
                                         "production-eu"]
    eu = policy.environments["production-eu"]
    assert eu.change_ticket.required and isinstance(eu.strategy, BlueGreen)
    assert [r.name for r in eu.approvals.rules] == ["management"]


def test_regulated_projects_need_a_security_signoff_in_production(tmp_path):
    policy = load(tmp_path, "project: demo\ncompliance: { regulated: true }\n").policy
    production = policy.environments["production"]
    assert [r.name for r in production.approvals.rules] == ["management", "security-signoff"]
    assert "security-signoff" in production.checks
    assert "security-signoff" not in policy.environments["staging"].checks


def test_lists_replace_rather_than_append(tmp_path):
    policy = load(tmp_path, """
project: demo
defaults:
  verify:
    smoke_tests:
      - { name: home, path: / }
""").policy
    assert [t.name for t in policy.environments["testing"].verify.smoke_tests] == ["home"]


def test_warnings_do_not_fail_validation(tmp_path):
    loaded = load(tmp_path, "project: demo\nenvironments:\n  production:\n    maintenance: { enforce: false }\n")
    assert [w.path for w in loaded.warnings] == ["environments.production.maintenance.enforce"]
    assert loaded.warnings[0].level == "warning"


def test_yaml_1_1_booleans_in_keys_do_not_confuse_the_loader(tmp_path):
    # `on:` is a boolean key in YAML 1.1; a policy key is always text
    with pytest.raises(PolicyError) as caught:
        load(tmp_path, "project: demo\non: push\n")
    assert "unknown key 'on'" in caught.value.diagnostics[0].message


def test_default_policy_path_is_dot_bayat(tmp_path, monkeypatch):
    (tmp_path / ".bayat").mkdir()
    (tmp_path / ".bayat" / "deploy.yml").write_text("project: demo\n")
    monkeypatch.chdir(tmp_path)
    loaded = load_policy()
    assert loaded.policy.project == "demo"
    assert loaded.root == tmp_path.resolve()


def test_substitute_fills_placeholders(tmp_path):
    policy = load(tmp_path, "project: demo\n").policy
    assert policy.substitute("{project}-{environment}", "staging") == "demo-staging"
