"""Strategies on the real Docker host target: nginx in front, containers of the example behind it.

Every switch happens while a load generator sends requests through nginx; a healthy switch must not
fail a single request, and a broken release must end with the previous version serving.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
import requests

from tests.support.deploy_fixtures import IMAGE
from tests.support.load import LoadGenerator

pytestmark = [pytest.mark.docker, pytest.mark.e2e]


def serving(url: str) -> str:
    return requests.get(url + "/version", timeout=5).json()["version"]


def test_blue_green_switch_loses_no_request_and_rolls_back_instantly(deploy_repo):
    deploy_repo.policy({"staging": {"resources": {"replicas": 2},
                                    "strategy": {"type": "blue-green", "decommission_after": "10m"}}})
    assert deploy_repo.deploy("staging", "1.0.0").code == 0
    url = deploy_repo.url("staging")
    with LoadGenerator(url + "/") as load:
        load.during("switch to 2.0.0")
        result = deploy_repo.deploy("staging", "2.0.0")
        time.sleep(0.5)
        load.during("rollback")
        rolled = deploy_repo.run("rollback", "--env", "staging", "--reason", "test")
        time.sleep(0.5)
    assert result.code == 0, result.stdout + result.stderr
    assert rolled.code == 0, rolled.stdout + rolled.stderr
    switch = load.stats("switch to 2.0.0")
    assert switch["failed"] == 0 and switch["requests"] > 20, switch
    assert set(switch["versions"]) == {"1.0.0", "2.0.0"}
    assert load.stats("rollback")["failed"] == 0
    assert serving(url) == "1.0.0"
    last = deploy_repo.history("staging")[-1]
    assert (last["action"], last["version"], last["previous_version"]) == ("rollback", "1.0.0", "2.0.0")
    assert last["details"]["how"] == "switched back to the warm previous version"
    assert last["details"]["seconds_to_traffic"] < 2
    assert list((deploy_repo.state / "staging" / "incidents").glob("*-staging-rollback.md"))


def test_canary_steps_lose_no_request_and_a_degrading_release_is_rolled_back(deploy_repo):
    deploy_repo.policy({"production": {"resources": {"replicas": 2}, "strategy": {
        "type": "canary", "analysis": False, "health_timeout": "15s",
        "steps": [{"weight": 20, "pause": "2s"}, {"weight": 50, "pause": "2s"}, {"weight": 100}]},
        "analysis": {"interval": "1s"}}})
    assert deploy_repo.deploy("production", "1.0.0").code == 0
    url = deploy_repo.url("production")
    with LoadGenerator(url + "/") as load:
        load.during("canary 2.0.0")
        good = deploy_repo.deploy("production", "2.0.0")
        load.during("canary 3.0.0 (degrades)")
        bad = deploy_repo.deploy("production", "3.0.0", "--set-env", "FAIL_AFTER_REQUESTS=15")
        load.during("after")
        time.sleep(1)
    assert good.code == 0, good.stdout + good.stderr
    canary = load.stats("canary 2.0.0")
    assert canary["failed"] == 0 and set(canary["versions"]) == {"1.0.0", "2.0.0"}, canary
    assert bad.code == 1 and "rolled-back" in bad.stdout, bad.stdout
    assert "step 1: analysis failed" in bad.stdout
    assert load.stats("after") == {**load.stats("after"), "failed": 0, "versions": {"2.0.0": load.stats("after")[
        "requests"]}}
    assert serving(url) == "2.0.0"
    outcomes = [(e["version"], e["outcome"]) for e in deploy_repo.history("production")]
    assert outcomes == [("1.0.0", "succeeded"), ("2.0.0", "succeeded"), ("3.0.0", "rolled-back")]


def test_rolling_update_in_batches_and_a_crashing_release_keeps_the_old_one(deploy_repo):
    deploy_repo.policy({"development": {"resources": {"replicas": 3},
                                        "strategy": {"type": "rolling", "batch_size": 1, "health_timeout": "10s"}}})
    assert deploy_repo.deploy("development", "1.0.0").code == 0
    url = deploy_repo.url("development")
    with LoadGenerator(url + "/") as load:
        load.during("rolling 2.0.0")
        rolled = deploy_repo.deploy("development", "2.0.0")
        load.during("crash")
        crashed = deploy_repo.deploy("development", "3.0.0", "--set-env", "CRASH_ON_START=1")
    assert rolled.code == 0 and load.stats("rolling 2.0.0")["failed"] == 0, load.stats("rolling 2.0.0")
    assert "start batch of 1" in rolled.stdout and rolled.stdout.count("start batch of 1") == 3
    assert crashed.code == 1 and "exited with 3" in crashed.stdout, crashed.stdout
    assert load.stats("crash")["failed"] == 0
    state = deploy_repo.state_of("development")
    assert list(state["tracks"]) == ["stable"] and len(state["tracks"]["stable"]["instances"]) == 3
    assert serving(url) == "2.0.0"


def test_a_failing_smoke_test_on_green_never_reaches_users(deploy_repo):
    deploy_repo.policy({"staging": {"strategy": {"type": "blue-green"}}})
    assert deploy_repo.deploy("staging", "1.0.0").code == 0
    broken = deploy_repo.deploy("staging", "2.0.0", "--set-env", "FAIL_RATE=1")
    assert broken.code == 1
    assert "smoke tests on green, before any traffic" in broken.stdout and "status 500" in broken.stdout
    entry = deploy_repo.history("staging")[-1]
    assert entry["outcome"] == "failed" and entry["previous_version"] == "1.0.0"
    assert serving(deploy_repo.url("staging")) == "1.0.0"
    assert list(deploy_repo.state_of("staging")["tracks"]) == ["stable"]


def test_verification_failure_rolls_back_automatically(deploy_repo):
    deploy_repo.policy({"staging": {"resources": {"replicas": 1},
                                    "strategy": {"type": "blue-green", "decommission_after": "5m"}}})
    assert deploy_repo.deploy("staging", "1.0.0").code == 0
    assert deploy_repo.deploy("staging", "2.0.0", "--set-env", "FAIL_AFTER_REQUESTS=12").code == 0
    for _ in range(20):  # users arrive; the release starts failing
        requests.get(deploy_repo.url("staging") + "/", timeout=5)
    verify = deploy_repo.run("verify", "--env", "staging")
    assert verify.code == 1
    assert "rolled back to 1.0.0" in verify.stdout, verify.stdout
    assert serving(deploy_repo.url("staging")) == "1.0.0"
    assert deploy_repo.history("staging")[-1]["details"]["automatic"] is True
    # the pipeline's rollback job runs next: it must not roll "back" to the release verify just undid
    job = deploy_repo.run("rollback", "--env", "staging", "--failed-version", "2.0.0", "--reason", "verify failed")
    assert job.code == 0 and "already serves 1.0.0" in job.stdout, job.stdout + job.stderr
    assert serving(deploy_repo.url("staging")) == "1.0.0"


def test_a_rollback_job_after_a_failed_gate_undoes_nothing(deploy_repo):
    deploy_repo.policy({"staging": {"strategy": {"type": "blue-green"}}})
    assert deploy_repo.deploy("staging", "1.0.0").code == 0
    assert deploy_repo.deploy("staging", "2.0.0").code == 0
    # 3.0.0's gate failed, so it was never deployed; the on-failure rollback job still runs
    job = deploy_repo.run("rollback", "--env", "staging", "--failed-version", "3.0.0", "--reason", "gate failed")
    assert job.code == 0 and "3.0.0 never took traffic here" in deploy_repo.history("staging")[-1]["reason"]
    assert serving(deploy_repo.url("staging")) == "2.0.0"


def test_paused_blue_green_waits_for_promote_or_abort(deploy_repo):
    deploy_repo.policy({"staging": {"strategy": {"type": "blue-green", "auto_promote": False}}})
    assert deploy_repo.deploy("staging", "1.0.0").code == 0
    paused = deploy_repo.deploy("staging", "2.0.0")
    assert paused.code == 0 and "paused" in paused.stdout
    assert serving(deploy_repo.url("staging")) == "1.0.0"
    assert deploy_repo.run("promote", "--env", "staging").code == 0
    assert serving(deploy_repo.url("staging")) == "2.0.0"
    assert deploy_repo.deploy("staging", "3.0.0").code == 0
    aborted = deploy_repo.run("abort", "--env", "staging", "--reason", "not today")
    assert aborted.code == 0
    assert serving(deploy_repo.url("staging")) == "2.0.0"
    assert [e["action"] for e in deploy_repo.history("staging")] == ["deploy", "deploy", "promote", "deploy", "abort"]
    assert deploy_repo.run("promote", "--env", "staging").code == 1  # nothing paused any more


CHECKS = {"haproxy": "haproxy -c rejected the new configuration", "nginx": "nginx -t rejected the new configuration"}


@pytest.mark.parametrize("router", ["haproxy", "nginx"])
def test_a_router_config_that_fails_its_check_changes_nothing(deploy_repo, router):
    deploy_repo.policy({"testing": {"strategy": {"type": "blue-green"}, "target": {"router": router}}})
    assert deploy_repo.deploy("testing", "1.0.0").code == 0
    url = deploy_repo.url("testing")
    deploy_repo.policy({"testing": {"strategy": {"type": "blue-green"},
                                    "target": {"router": router, "port": deploy_repo.ports["testing"],
                                               "listen": "no-such-host.invalid"}}})
    result = deploy_repo.deploy("testing", "2.0.0")
    assert result.code == 1 and CHECKS[router] in result.stdout, result.stdout
    assert serving(url) == "1.0.0"
    state = deploy_repo.state_of("testing")
    assert list(state["tracks"]) == ["stable"] and state["tracks"]["stable"]["release"]["version"] == "1.0.0"


def test_a_failed_nginx_reload_keeps_the_previous_version(deploy_repo):
    deploy_repo.policy({"testing": {"strategy": {"type": "blue-green"}, "target": {"router": "nginx"}}})
    assert deploy_repo.deploy("testing", "1.0.0").code == 0
    pid_file = deploy_repo.state / "testing" / "nginx" / "nginx.pid"
    real_pid = pid_file.read_text()
    pid_file.write_text("999999\n")  # a stale pid file: reloading cannot reach the running nginx
    try:
        result = deploy_repo.deploy("testing", "2.0.0")
        assert result.code == 1 and "nginx did not start" in result.stdout, result.stdout
        assert serving(deploy_repo.url("testing")) == "1.0.0"
    finally:
        pid_file.write_text(real_pid)


def test_a_haproxy_that_cannot_be_told_keeps_the_previous_version(deploy_repo):
    deploy_repo.policy({"testing": {"strategy": {"type": "blue-green"}}})
    assert deploy_repo.deploy("testing", "1.0.0").code == 0
    (deploy_repo.state / "testing" / "haproxy" / "admin.sock").unlink()  # the running process is out of reach
    result = deploy_repo.deploy("testing", "2.0.0")
    assert result.code == 1 and "its admin socket" in result.stdout and "is gone" in result.stdout, result.stdout
    assert serving(deploy_repo.url("testing")) == "1.0.0"
    assert deploy_repo.state_of("testing")["tracks"]["stable"]["release"]["version"] == "1.0.0"


def test_deploying_a_version_that_was_never_published(deploy_repo, registry):
    deploy_repo.policy(registries={"containers": {"url": f"{registry.host}/bayat", "insecure": True,
                                                  "username": "env:REG_USER", "password": "env:REG_PASS"}})
    env = {"REG_USER": registry.username, "REG_PASS": registry.password}
    result = deploy_repo.run("deploy", "--env", "development", "--version", "7.7.7", env=env)
    assert result.code == 2 and "was never published" in result.stderr, result.stderr
    deploy_repo.policy(registries={"containers": {"url": "127.0.0.1:9/bayat", "insecure": True}})
    unreachable = deploy_repo.run("deploy", "--env", "development", "--version", "7.7.7")
    assert unreachable.code in (1, 2) and "Traceback" not in unreachable.stderr
    assert not (deploy_repo.state / "development" / "state.json").exists()


def test_concurrent_deployments_to_one_environment_serialise(deploy_repo):
    import subprocess

    from tests.conftest import BIN

    deploy_repo.policy({"production": {"strategy": {"type": "canary", "analysis": False,
                                                    "steps": [{"weight": 50, "pause": "4s"}, {"weight": 100}]}}})
    assert deploy_repo.deploy("production", "1.0.0").code == 0
    first = subprocess.Popen([str(BIN / "bayat-deploy"), "deploy", "--env", "production", "--version", "2.0.0",
                              "--image", "bayat-test/hello-api:e2e"], cwd=deploy_repo.root, stdout=subprocess.PIPE,
                             text=True)
    time.sleep(2)
    second = deploy_repo.deploy("production", "2.0.1", "--lock-timeout", "1")
    assert first.wait(120) == 0
    assert second.code == 1 and "another deployment holds" in second.stderr and "deploying 2.0.0" in second.stderr
    assert [e["version"] for e in deploy_repo.history("production")] == ["1.0.0", "2.0.0"]


def test_rollback_drill_rehearses_and_times_it(deploy_repo):
    deploy_repo.policy({"staging": {"strategy": {"type": "blue-green"}}})
    assert deploy_repo.deploy("staging", "1.0.0").code == 0
    assert deploy_repo.deploy("staging", "2.0.0").code == 0
    drill = deploy_repo.run("rollback", "--env", "staging", "--drill")
    assert drill.code == 0, drill.stdout + drill.stderr
    assert "rolled back 2.0.0 -> 1.0.0 in" in drill.stdout
    assert serving(deploy_repo.url("staging")) == "2.0.0"
    refused = deploy_repo.run("rollback", "--env", "production", "--drill")
    assert refused.code == 2 and "non-production" in refused.stderr


def test_unknown_environment_is_bad_input(deploy_repo):
    result = deploy_repo.deploy("prod", "1.0.0")
    assert result.code == 2 and "unknown environment 'prod'" in result.stderr


def test_a_first_release_is_rolled_back_by_removing_it(deploy_repo):
    assert deploy_repo.deploy("development", "1.0.0").code == 0
    refused = deploy_repo.run("rollback", "--env", "development")
    assert refused.code == 1 and "--remove" in refused.stderr
    removed = deploy_repo.run("rollback", "--env", "development", "--remove", "--reason", "bad first release")
    assert removed.code == 0, removed.stderr
    with pytest.raises(requests.ConnectionError):
        requests.get(deploy_repo.url("development") + "/health", timeout=2)
    assert deploy_repo.history("development")[-1]["reason"] == "bad first release; deployment removed"


def test_the_pipelines_rollback_after_a_restored_failure_has_nothing_to_undo(deploy_repo):
    deploy_repo.policy({"staging": {"strategy": {"type": "blue-green"}}})
    assert deploy_repo.deploy("staging", "1.0.0").code == 0
    assert deploy_repo.deploy("staging", "2.0.0", "--set-env", "FAIL_RATE=1").code == 1  # caught before traffic
    rolled = deploy_repo.run("rollback", "--env", "staging", "--reason", "deploy job failed")
    assert rolled.code == 0 and "already serves 1.0.0" in rolled.stdout, rolled.stdout + rolled.stderr
    assert serving(deploy_repo.url("staging")) == "1.0.0"
    assert deploy_repo.history("staging")[-1]["reason"] == "deploy job failed; nothing to undo"


def test_a_rolling_release_that_fails_its_smoke_tests_never_reaches_users(deploy_repo):
    deploy_repo.policy({"development": {"resources": {"replicas": 1}, "strategy": {"type": "rolling"}}})
    assert deploy_repo.deploy("development", "1.0.0").code == 0
    url = deploy_repo.url("development")
    # healthy, but its home page fails: the first new instance is smoke-tested directly, before any traffic
    with LoadGenerator(url + "/") as load:
        load.during("broken 2.0.0")
        broken = deploy_repo.deploy("development", "2.0.0", "--set-env", "FAIL_AFTER_REQUESTS=0")
    assert broken.code == 1 and "smoke tests on the first new instance, before any traffic" in broken.stdout, \
        broken.stdout
    stats = load.stats("broken 2.0.0")
    assert stats["failed"] == 0 and set(stats["versions"]) == {"1.0.0"}, stats
    assert serving(url) == "1.0.0"
    assert list(deploy_repo.state_of("development")["tracks"]) == ["stable"]
    assert deploy_repo.history("development")[-1]["outcome"] == "failed"  # no user ever reached it


def test_verify_checks_that_the_metrics_provider_scrapes_the_new_instances(deploy_repo, tmp_path):
    from tests.support.prometheus import start_prometheus

    prometheus = start_prometheus(tmp_path / "prometheus", deploy_repo.state / "development" / "prometheus" /
                                  "targets.json")
    try:
        deploy_repo.policy({"development": {"strategy": {"type": "rolling"}}}, monitoring={"url": prometheus.url})
        assert deploy_repo.deploy("development", "1.0.0").code == 0
        verified = deploy_repo.run("verify", "--env", "development")
        assert verified.code == 0, verified.stdout + verified.stderr
        checks = json.loads((deploy_repo.root / ".bayat/evidence/verify-development.json").read_text())
        scraped = next(c for c in checks["details"]["checks"] if c["name"] == "scraped")
        assert scraped["ok"] and "instance(s) of 1.0.0 scraped" in scraped["message"]
    finally:
        prometheus.stop()
    deploy_repo.policy({"development": {"strategy": {"type": "rolling"}}},
                       monitoring={"url": "http://127.0.0.1:9"})
    blind = deploy_repo.run("verify", "--env", "development", "--no-rollback")
    assert blind.code == 1 and "metrics are not working" in blind.stdout


def test_application_secrets_are_resolved_in_the_job_and_never_written(deploy_repo):
    """`target.env: {DATABASE_URL: env:DATABASE_URL}`: the container gets the job's secret, the state and
    record only the reference; a job without the secret stops before any container starts."""
    deploy_repo.policy({"staging": {"strategy": {"type": "blue-green"},
                                    "target": {"env": {"DATABASE_URL": "env:DATABASE_URL", "MODE": "plain"}}}})
    missing = deploy_repo.run("deploy", "--env", "staging", "--version", "1.0.0", "--image", IMAGE,
                              env={"DATABASE_URL": ""})
    said = missing.stdout + missing.stderr
    assert missing.code != 0 and "environments.staging.target.env.DATABASE_URL: env:DATABASE_URL is not set" in said
    assert not _containers(deploy_repo.project, "staging")
    secret = "postgres://app:s3cret-value@db:5432/app"
    result = deploy_repo.run("deploy", "--env", "staging", "--version", "1.0.0", "--image", IMAGE,
                             env={"DATABASE_URL": secret})
    assert result.code == 0, result.stdout + result.stderr
    containers = _containers(deploy_repo.project, "staging")
    inspected = json.loads(subprocess.run(["docker", "inspect", *containers], capture_output=True, text=True,
                                          check=True).stdout)
    assert containers and all(f"DATABASE_URL={secret}" in c["Config"]["Env"] and "MODE=plain" in c["Config"]["Env"]
                              for c in inspected)
    written = "".join(p.read_text(errors="replace") for p in (deploy_repo.state / "staging").rglob("*")
                      if p.is_file())
    assert "s3cret-value" not in written and "s3cret-value" not in result.stdout + result.stderr


def _containers(project: str, environment: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter", f"label=io.bayat.project={project}",
                          "--filter", f"label=io.bayat.environment={environment}"], capture_output=True, text=True,
                         check=True)
    return out.stdout.split()
