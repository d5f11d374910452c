"""The deploy job's sequence (stages/deploy_sequence.py): approvals, gate and announcement before the deployment,
the evidence bundle and the announcement of the result after it, whatever happened. The steps are the real
commands; announcements arrive at a local HTTP receiver."""

from __future__ import annotations

import argparse
import json
import subprocess

import pytest
import yaml

from bayat_deploy.stages import deploy_sequence
from tests.conftest import run_command
from tests.support.receivers import HttpReceiver


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "shop"
    (root / ".bayat").mkdir(parents=True)
    document = {
        "project": "shop",
        "target": {"type": "docker-host", "state_dir": str(tmp_path / "state" / "{environment}")},
        "notifications": {"routes": [{"name": "hooks", "type": "webhook", "url": "env:HOOK_URL"}]},
        "environments": {"development": {"notify": ["hooks"]}},
    }
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(document, sort_keys=False))
    for command in (["init", "-q", "-b", "main"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@e",
                                                                 "commit", "-q", "-m", "feat: shop"]):
        subprocess.run(["git", *command], cwd=root, check=True)
    return root


def events(receiver: HttpReceiver) -> list[str]:
    return [json.loads(request.body)["event"] for request in receiver.requests]


def test_a_refused_gate_stops_before_the_deployment_and_is_announced(repo, receiver):
    result = run_command("bayat-deploy", "deploy", "--env", "development", "--version", "1.0.0",
                         "--gate", "--notify", cwd=repo,
                         env={"HOOK_URL": receiver.url("/hooks"), "GITHUB_ACTIONS": "", "GITLAB_CI": ""})

    assert result.code == 1, result
    steps = [line for line in result.stderr.splitlines() if line.startswith("--- bayat-deploy ")]
    assert [s.split()[2] for s in steps] == ["gate", "notify"]  # deploy never ran
    assert "--event deploy-failed" in steps[-1]
    assert events(receiver) == ["deploy-failed"]  # nothing was announced as started
    history = run_command("bayat-deploy", "history", "--env", "development", cwd=repo)
    assert "1.0.0" not in history.stdout  # no attempt: nothing was changed


@pytest.mark.parametrize("outcome, announced", [(0, "deploy-succeeded"), (1, "deploy-failed")])
def test_the_result_and_the_bundle_follow_the_deployment_whatever_it_did(repo, receiver, monkeypatch, outcome,
                                                                         announced):
    monkeypatch.chdir(repo)
    monkeypatch.setenv("HOOK_URL", receiver.url("/hooks"))
    ran = []

    def deploy(args):  # the strategies are tested on their own; here only the order around them matters
        ran.append(events(receiver))
        return outcome

    args = argparse.Namespace(environment="development", version="1.0.0", policy=None, emergency=False,
                              reason="", record_approvals=False, gate=False, change_ticket="", notify=True,
                              evidence_bundle=True)
    assert deploy_sequence.run(args, deploy) == outcome

    assert ran == [["deploy-started"]]  # announced before the deployment began
    assert events(receiver) == ["deploy-started", announced]
    bundle = json.loads((repo / ".bayat" / "reports" / "compliance-development.json").read_text())
    assert bundle["environment"] == "development"  # the evidence bundle is kept either way


def test_without_sequence_flags_deploy_is_the_rollout_alone():
    args = argparse.Namespace(emergency=False, record_approvals=False, gate=False, notify=False,
                              evidence_bundle=False)
    assert not deploy_sequence.requested(args)
    assert deploy_sequence.requested(argparse.Namespace(**{**vars(args), "gate": True}))


def test_a_rollback_announces_itself_whatever_its_outcome(repo, receiver):
    """`rollback --notify` (the generated rollback jobs and the component use it instead of an after_script)."""
    env = {"HOOK_URL": receiver.url("/hooks"), "GITHUB_ACTIONS": "", "GITLAB_CI": ""}
    result = run_command("bayat-deploy", "rollback", "--env", "development", "--reason", "test", "--notify",
                         cwd=repo, env=env)
    assert result.code != 0  # nothing was ever deployed: nothing to return to
    assert events(receiver) == ["rollback"]

    drill = run_command("bayat-deploy", "rollback", "--env", "development", "--drill", "--notify", cwd=repo,
                        env=env)
    assert drill.code != 0 and events(receiver) == ["rollback"]  # a drill is rehearsal: not announced
