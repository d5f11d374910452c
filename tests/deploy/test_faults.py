"""Fault injection on the real Docker host target: a deployment killed, starved of disk or refused a write at
each step, then the commands after it.

After every fault: the previous version serves, or the new one serves and the state says so; `history`
tells the truth about the attempt (interrupted, failed); no container is left that the state does not
list; the next deploy and a rollback succeed. Kills are SIGKILL at the named failpoints
(deploy/failpoints.py): no cleanup runs, as when a runner dies. The full disk is a small tmpfs under the
environment's state directory, the read-only directory a read-only bind mount.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import BIN
from tests.support.deploy_fixtures import IMAGE
from tests.support.example import stop_deployments
from tests.support.load import LoadGenerator

pytestmark = [pytest.mark.docker, pytest.mark.e2e]
ENV = "staging"
STRATEGIES = {
    "blue-green": {"type": "blue-green"},
    "rolling": {"type": "rolling", "batch_size": 1},
    "canary": {"type": "canary", "analysis": False, "steps": [{"weight": 50, "pause": "1s"}, {"weight": 100}]},
}


def serving(url: str) -> str:
    return requests.get(url + "/version", timeout=5).json()["version"]


def containers(repo) -> set[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter", f"label=io.bayat.project={repo.project}",
                          "--filter", f"label=io.bayat.environment={ENV}"], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def listed(repo) -> set[str]:
    state = repo.state_of(ENV)
    return {i["id"] for track in state["tracks"].values() for i in track["instances"]}


def recorded_serving(repo) -> str:
    tracks = [t for t in repo.state_of(ENV)["tracks"].values() if t["weight"]]
    return max(tracks, key=lambda t: t["weight"])["release"]["version"]


def deploy_process(repo, version: str, *extra: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "bayat-deploy"), "deploy", "--env", ENV, "--version", version, "--image", IMAGE,
                             *extra], cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {})})


def assert_true_and_recoverable(repo, *, attempt: str, outcome: str) -> dict:
    """What must hold after any fault; returns the attempt's history entry."""
    shown = repo.run("history", "--env", ENV, "--format", "json")  # the first command after the fault: it reconciles
    assert shown.code == 0, shown.stdout + shown.stderr
    history = json.loads(shown.stdout)
    last = history[-1]
    assert last["version"] == attempt and last["outcome"] in (outcome if isinstance(outcome, tuple) else (outcome,)), \
        history
    url = repo.url(ENV)
    assert serving(url) == recorded_serving(repo)
    assert containers(repo) == listed(repo), "a container the state does not list was left running"
    assert repo.deploy(ENV, "2.0.0").code == 0
    assert serving(url) == "2.0.0" and containers(repo) == listed(repo)
    stable = repo.state_of(ENV)["tracks"]["stable"]
    assert stable["release"]["version"] == "2.0.0" and len(stable["instances"]) == 2, stable
    rolled = repo.run("rollback", "--env", ENV, "--reason", "after the fault")
    assert rolled.code == 0, rolled.stdout + rolled.stderr
    assert serving(url) == "1.0.0"
    return last


@pytest.mark.parametrize(("strategy", "failpoint", "router"), [
    ("blue-green", "attempt-recorded", "haproxy"), ("blue-green", "instances-started", "haproxy"),
    ("blue-green", "router-config-replaced", "haproxy"), ("blue-green", "router-reloaded", "haproxy"),
    ("rolling", "router-reloaded", "haproxy"), ("rolling", "instances-unrouted", "haproxy"),
    ("canary", "router-reloaded", "haproxy"),
    ("blue-green", "router-config-replaced", "nginx"), ("blue-green", "router-reloaded", "nginx"),
])
def test_a_deploy_killed_at_each_step_leaves_the_truth_and_the_next_commands_work(deploy_repo, strategy, failpoint,
                                                                                   router):
    deploy_repo.policy({ENV: {"resources": {"replicas": 2}, "strategy": STRATEGIES[strategy],
                              "target": {"router": router}}})
    assert deploy_repo.deploy(ENV, "1.0.0").code == 0
    url = deploy_repo.url(ENV)
    with LoadGenerator(url + "/") as load:
        load.during("killed")
        killed = deploy_process(deploy_repo, "2.0.0", env={"BAYAT_FAILPOINTS": failpoint})
        output, _ = killed.communicate(timeout=180)
    assert killed.returncode == -9 and f"failpoint {failpoint}" in output, output
    assert load.stats("killed")["failed"] == 0, load.stats("killed")
    last = assert_true_and_recoverable(deploy_repo, attempt="2.0.0", outcome="interrupted")
    assert "stopped before recording a result" in last["reason"] and last["details"]["serving"] == "1.0.0", last


def test_a_first_release_killed_after_the_switch_is_recorded_as_serving(deploy_repo):
    deploy_repo.policy({ENV: {"resources": {"replicas": 2}, "strategy": STRATEGIES["blue-green"]}})
    killed = deploy_process(deploy_repo, "1.0.0", env={"BAYAT_FAILPOINTS": "router-reloaded"})
    output, _ = killed.communicate(timeout=180)
    assert killed.returncode == -9, output
    last = deploy_repo.history(ENV)[-1]
    assert (last["outcome"], last["details"]["serving"]) == ("interrupted", "1.0.0"), last
    assert "without the checks" in last["reason"]
    assert serving(deploy_repo.url(ENV)) == recorded_serving(deploy_repo) == "1.0.0"
    assert containers(deploy_repo) == listed(deploy_repo)
    assert deploy_repo.deploy(ENV, "2.0.0").code == 0 and serving(deploy_repo.url(ENV)) == "2.0.0"


def test_the_kill_between_reload_and_record_does_not_move_users_back_silently(deploy_repo):
    """The case that used to lie: nginx served 2.0.0 while the state said 1.0.0."""
    deploy_repo.policy({ENV: {"resources": {"replicas": 2}, "strategy": STRATEGIES["blue-green"]}})
    assert deploy_repo.deploy(ENV, "1.0.0").code == 0
    killed = deploy_process(deploy_repo, "2.0.0", env={"BAYAT_FAILPOINTS": "router-reloaded"})
    killed.communicate(timeout=180)
    assert serving(deploy_repo.url(ENV)) == "2.0.0"  # the switch happened; the state has it only as pending
    assert "pending" in deploy_repo.state_of(ENV)
    history = deploy_repo.run("history", "--env", ENV)
    assert "interrupted" in history.stdout.splitlines()[-1], history.stdout
    assert "reconciled staging: the router serves generation" in history.stderr, history.stderr
    assert serving(deploy_repo.url(ENV)) == "1.0.0"  # put back as a failed rollout is, and recorded so


def tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def read_only(path: Path) -> None:
    subprocess.run(["mount", "--bind", str(path), str(path)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=True)


def unmount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path) -> Path:
    filler = path / "filler"
    with open(filler, "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * (1 << 20))
                handle.flush()
        except OSError:
            pass
    return filler


@pytest.fixture
def mounts(deploy_repo):
    """Mount points to undo; the routers whose files are on them stop first (their pid files go with them)."""
    made: list[Path] = []
    yield made
    stop_deployments(deploy_repo.project, deploy_repo.state)
    for path in reversed(made):
        unmount(path)


def serving_on_tmpfs(repo, mounts, strategy: str) -> Path:
    """1.0.0 serving, with the environment's state directory (router, record, state) on a small tmpfs."""
    state = repo.state / ENV
    tmpfs(state, "32m")
    mounts.append(state)
    repo.policy({ENV: {"resources": {"replicas": 2}, "strategy": STRATEGIES[strategy]}})
    assert repo.deploy(ENV, "1.0.0").code == 0
    return state


def test_a_disk_that_fills_during_the_rollout_is_a_clear_error_and_the_previous_version_serves(deploy_repo, mounts):
    state = serving_on_tmpfs(deploy_repo, mounts, "blue-green")
    url = deploy_repo.url(ENV)
    proc = deploy_process(deploy_repo, "2.0.0")
    lines, filler = [], None
    for line in proc.stdout:
        lines.append(line)
        if "health of green" in line and filler is None:
            filler = fill(state)  # the containers are starting; the switch is the next write
    proc.wait(timeout=180)
    output = "".join(lines)
    assert proc.returncode == 1, output
    assert "the disk is full (ENOSPC)" in output and "internal error" not in output and "Traceback" not in output, \
        output
    assert serving(url) == "1.0.0"
    filler.unlink()
    # failed when its result still fitted in the record's last page, interrupted when not
    assert_true_and_recoverable(deploy_repo, attempt="2.0.0", outcome=("failed", "interrupted"))


def test_a_full_disk_before_the_deploy_changes_nothing_and_says_so(deploy_repo, mounts):
    state = serving_on_tmpfs(deploy_repo, mounts, "rolling")
    before = containers(deploy_repo)
    filler = fill(state)
    result = deploy_repo.deploy(ENV, "2.0.0")
    said = result.stdout + result.stderr
    # the record's last page may still hold the in-progress entry: then the rollout starts and stops at its
    # first state write; if not, nothing starts at all
    assert result.code == 1 and re.search(r"cannot write \S+: the disk is full \(ENOSPC\)", said), said
    assert "internal error" not in said and "Traceback" not in said
    assert serving(deploy_repo.url(ENV)) == "1.0.0" and containers(deploy_repo) == before
    filler.unlink()
    assert deploy_repo.deploy(ENV, "2.0.0").code == 0


@pytest.mark.parametrize("router", ["haproxy", "nginx"])
def test_a_read_only_router_directory_fails_cleanly_and_stops_the_new_instances(deploy_repo, mounts, router):
    deploy_repo.policy({ENV: {"resources": {"replicas": 2}, "strategy": STRATEGIES["blue-green"],
                              "target": {"router": router}}})
    assert deploy_repo.deploy(ENV, "1.0.0").code == 0
    nginx = deploy_repo.state / ENV / router
    read_only(nginx)
    mounts.append(nginx)
    result = deploy_repo.deploy(ENV, "2.0.0")
    assert result.code == 1 and "the file system is read-only (EROFS)" in result.stdout, result.stdout + result.stderr
    assert "internal error" not in result.stdout + result.stderr
    assert serving(deploy_repo.url(ENV)) == "1.0.0"
    assert containers(deploy_repo) == listed(deploy_repo) and len(listed(deploy_repo)) == 2  # no 2.0.0 left
    assert deploy_repo.history(ENV)[-1]["outcome"] == "failed"
    unmount(nginx)
    mounts.remove(nginx)
    assert_true_and_recoverable(deploy_repo, attempt="2.0.0", outcome="failed")


def test_an_unreachable_registry_is_recorded_as_an_attempt(deploy_repo):
    deploy_repo.policy({ENV: {"strategy": STRATEGIES["blue-green"]}},
                       registries={"containers": {"url": "127.0.0.1:9/bayat", "insecure": True}})
    result = deploy_repo.run("deploy", "--env", ENV, "--version", "3.0.0")
    assert result.code == 1 and "cannot reach the registry" in result.stderr, result.stderr
    (entry,) = deploy_repo.history(ENV)
    assert (entry["version"], entry["outcome"]) == ("3.0.0", "failed")
    assert "cannot reach the registry" in entry["reason"] and "nothing was changed" in entry["reason"]


def test_a_deploy_that_waited_for_the_lock_never_replaces_a_newer_version(deploy_repo):
    deploy_repo.policy({ENV: {"strategy": {"type": "canary", "analysis": False,
                                           "steps": [{"weight": 50, "pause": "3s"}, {"weight": 100}]}}})
    assert deploy_repo.deploy(ENV, "1.0.0").code == 0
    newer = deploy_process(deploy_repo, "3.0.0")
    time.sleep(1.5)
    older = deploy_repo.deploy(ENV, "2.0.0", "--lock-timeout", "120")
    assert newer.wait(120) == 0
    assert older.code == 1 and "3.0.0 serves staging now, newer than 2.0.0" in older.stdout, older.stdout
    assert "--allow-downgrade" in older.stdout and serving(deploy_repo.url(ENV)) == "3.0.0"
    assert [(e["version"], e["outcome"]) for e in deploy_repo.history(ENV)] == [
        ("1.0.0", "succeeded"), ("3.0.0", "succeeded"), ("2.0.0", "failed")]
    assert deploy_repo.deploy(ENV, "2.0.0", "--allow-downgrade").code == 0
    assert serving(deploy_repo.url(ENV)) == "2.0.0"


def test_a_failed_deploy_whose_traffic_never_moved_leaves_the_router_untouched(deploy_repo):
    deploy_repo.policy({ENV: {"resources": {"replicas": 2}, "strategy": STRATEGIES["blue-green"]}})
    assert deploy_repo.deploy(ENV, "1.0.0").code == 0
    generation = deploy_repo.state_of(ENV)["generation"]
    broken = deploy_repo.deploy(ENV, "2.0.0", "--set-env", "FAIL_AFTER_REQUESTS=0")
    assert broken.code == 1 and "smoke tests on green" in broken.stdout, broken.stdout
    assert deploy_repo.state_of(ENV)["generation"] == generation  # every reload closes keep-alive connections
    assert json.loads(requests.get(deploy_repo.url(ENV) + "/version", timeout=5).text)["version"] == "1.0.0"


@pytest.mark.parametrize(("strategy", "failpoint"), [
    ("blue-green", "attempt-recorded"), ("blue-green", "router-reloaded"),  # back to the warm version
    ("rolling", "instances-started"), ("rolling", "router-reloaded"),  # the old version started again
])
def test_a_rollback_killed_half_way_is_recorded_and_the_next_rollback_finishes_it(deploy_repo, strategy, failpoint):
    deploy_repo.policy({ENV: {"resources": {"replicas": 2}, "strategy": STRATEGIES[strategy]}})
    assert deploy_repo.deploy(ENV, "1.0.0").code == 0 and deploy_repo.deploy(ENV, "2.0.0").code == 0
    url = deploy_repo.url(ENV)
    with LoadGenerator(url + "/") as load:
        load.during("killed")
        killed = subprocess.run([str(BIN / "bayat-deploy"), "rollback", "--env", ENV, "--reason", "bad release"],
                                cwd=deploy_repo.root, capture_output=True, text=True, timeout=180,
                                env={**os.environ, "BAYAT_FAILPOINTS": failpoint})
    assert killed.returncode == -9 and f"failpoint {failpoint}" in killed.stdout, killed.stdout + killed.stderr
    assert load.stats("killed")["failed"] == 0, load.stats("killed")
    shown = deploy_repo.run("history", "--env", ENV, "--format", "json")
    last = json.loads(shown.stdout)[-1]
    assert (last["action"], last["version"], last["outcome"]) == ("rollback", "1.0.0", "interrupted"), last
    assert serving(url) == recorded_serving(deploy_repo) == last["details"]["serving"]
    assert containers(deploy_repo) == listed(deploy_repo), "a container the state does not list was left running"
    again = deploy_repo.run("rollback", "--env", ENV, "--reason", "finish the rollback")
    assert again.code == 0, again.stdout + again.stderr
    assert serving(url) == "1.0.0" and containers(deploy_repo) == listed(deploy_repo)
    final = deploy_repo.history(ENV)[-1]
    assert (final["action"], final["version"], final["outcome"]) == ("rollback", "1.0.0", "succeeded"), final
    assert deploy_repo.deploy(ENV, "2.0.0").code == 0 and serving(url) == "2.0.0"



def test_a_rollback_that_cannot_switch_is_recorded_as_failed_and_leaves_the_current_version(deploy_repo, mounts):
    deploy_repo.policy({ENV: {"resources": {"replicas": 2}, "strategy": STRATEGIES["rolling"]}})
    assert deploy_repo.deploy(ENV, "1.0.0").code == 0 and deploy_repo.deploy(ENV, "2.0.0").code == 0
    router = deploy_repo.state / ENV / "haproxy"
    read_only(router)
    mounts.append(router)
    result = deploy_repo.run("rollback", "--env", ENV, "--reason", "bad release")
    said = result.stdout + result.stderr
    assert result.code == 1 and "the file system is read-only (EROFS)" in said, said
    assert "internal error" not in said and "Traceback" not in said
    assert serving(deploy_repo.url(ENV)) == "2.0.0"
    assert containers(deploy_repo) == listed(deploy_repo) and len(listed(deploy_repo)) == 2  # 1.0.0 stopped again
    last = deploy_repo.history(ENV)[-1]
    assert (last["action"], last["version"], last["outcome"]) == ("rollback", "1.0.0", "failed"), last
    assert "the rollback failed" in last["reason"]
    unmount(router)
    mounts.remove(router)
    again = deploy_repo.run("rollback", "--env", ENV, "--reason", "bad release")
    assert again.code == 0 and serving(deploy_repo.url(ENV)) == "1.0.0", again.stdout + again.stderr
