"""Notifications: exact payloads at a local HTTP receiver, e-mail at a real SMTP server, aggregation, retries."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from tests.support.receivers import HttpReceiver, start_smtp

NOW = 1767225600.0  # 2026-01-01T00:00:00Z
AT = "2026-01-01T00:00:00+00:00"
PIPELINE = "https://github.com/bayat/shop/actions/runs/42"
RUNBOOK = "https://runbooks.example.com/shop"
SHA = "a" * 40


@pytest.fixture(scope="module")
def smtp_server():
    instance = start_smtp()
    yield instance
    instance.stop()


@pytest.fixture
def smtp(smtp_server):
    smtp_server.messages.clear()
    smtp_server.envelopes.clear()
    return smtp_server


def write_policy(root: Path, smtp_port: int, **notifications) -> None:
    document = {
        "project": "shop", "team": "payments", "runbook": RUNBOOK,
        "target": {"type": "docker-host", "state_dir": str(root / "state" / "{environment}")},
        "notifications": {"aggregate_window": "5m", "routes": [
            {"name": "hooks", "type": "webhook", "url": "env:HOOK_URL"},
            {"name": "chat", "type": "slack", "url": "env:SLACK_URL", "min_level": "warning"},
            {"name": "teams", "type": "teams", "url": "env:TEAMS_URL",
             "events": ["alert", "deploy-failed", "rollback"]},
            {"name": "mail", "type": "email", "to": ["oncall@example.com"],
             "smtp": {"host": "127.0.0.1", "port": smtp_port, "sender": "deploy@example.com",
                      "username": "env:SMTP_USER", "password": "env:SMTP_PASSWORD", "starttls": False}},
        ], **notifications},
        "environments": {"development": {"notify": ["hooks"]}},
    }
    (root / ".bayat").mkdir(parents=True, exist_ok=True)
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(document, sort_keys=False))


def route_env(receiver: HttpReceiver, smtp) -> dict:
    return {"HOOK_URL": receiver.url("/hooks"), "SLACK_URL": receiver.url("/slack/T0001/B0002/SLACKTOKEN"),
            "TEAMS_URL": receiver.url("/teams"), "SMTP_USER": smtp.username, "SMTP_PASSWORD": smtp.password}


def open_session(root: Path, env: dict):
    """A session whose run context is a GitHub Actions run (not this process's environment)."""
    from bayat_deploy.context import RunContext
    from bayat_deploy.platform import for_context
    from bayat_deploy.policy.loader import load_policy
    from bayat_deploy.session import Session

    context = RunContext.from_environment({
        "GITHUB_ACTIONS": "true", "GITHUB_SHA": SHA, "GITHUB_REF_NAME": "main", "GITHUB_ACTOR": "alice",
        "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "bayat/shop", "GITHUB_RUN_ID": "42",
        **env})
    return Session(load_policy(root / ".bayat" / "deploy.yml"), context, for_context(context, root))


@pytest.fixture
def session(tmp_path, receiver, smtp):
    write_policy(tmp_path, smtp.port)
    return open_session(tmp_path, route_env(receiver, smtp))


def alert(session, *, level="critical", now=NOW, metric="error_rate"):
    from bayat_deploy.gates.notify import send

    return send(session, event="alert", level=level, environment="production", title="Error rate 12% (was 0.5%)",
                text="error_rate rose from 0.5% to 12% after 1.4.0",
                details={"metric": metric, "before": 0.005, "after": 0.12}, version="1.4.0", now=now)


FACTS = [("Level", "critical"), ("Event", "alert"), ("Environment", "production"), ("Version", "1.4.0"),
         ("Team", "payments"), ("Triggered by", "alice"), ("Commit", "aaaaaaaaaaaa")]


def test_each_route_receives_exactly_its_documented_payload(session, receiver, smtp):
    deliveries = alert(session)
    assert [(d.route, d.status) for d in deliveries] == [("hooks", "sent"), ("chat", "sent"), ("teams", "sent"),
                                                         ("mail", "sent")]
    [generic] = receiver.at("/hooks")
    assert generic.headers["Content-Type"] == "application/json"
    assert generic.json == {
        "schema": "bayat-deploy/notification/v1", "event": "alert", "level": "critical", "project": "shop",
        "environment": "production", "title": "Error rate 12% (was 0.5%)",
        "text": "error_rate rose from 0.5% to 12% after 1.4.0", "version": "1.4.0", "team": "payments",
        "runbook": RUNBOOK, "pipeline_url": PIPELINE, "triggered_by": "alice", "commit": SHA, "at": AT,
        "details": {"metric": "error_rate", "before": 0.005, "after": 0.12},
        "aggregation": {"key": "production/alert/error_rate", "occurrences": 1, "first": AT, "last": AT,
                        "window_seconds": 300.0, "summary": False},
    }
    [slack] = receiver.at("/slack/T0001/B0002/SLACKTOKEN")
    assert slack.json == {
        "text": "[CRITICAL] shop production: Error rate 12% (was 0.5%)",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                        "text": "🚨 Error rate 12% (was 0.5%)"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "error_rate rose from 0.5% to 12% after 1.4.0"}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in FACTS]},
            {"type": "section", "text": {"type": "mrkdwn",
                                         "text": "```metric: error_rate\nbefore: 0.005\nafter: 0.12```"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "Owning team: *payments*"},
                                             {"type": "mrkdwn", "text": f"<{RUNBOOK}|Runbook>"},
                                             {"type": "mrkdwn", "text": f"<{PIPELINE}|Pipeline>"}]},
        ],
    }
    [teams] = receiver.at("/teams")
    assert teams.json == {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "msteams": {"width": "Full"},
            "body": [
                {"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": True, "color": "Attention",
                 "text": "[CRITICAL] shop production: Error rate 12% (was 0.5%)"},
                {"type": "TextBlock", "wrap": True, "text": "error_rate rose from 0.5% to 12% after 1.4.0"},
                {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in FACTS]},
                {"type": "FactSet", "facts": [{"title": "metric", "value": "error_rate"},
                                              {"title": "before", "value": "0.005"},
                                              {"title": "after", "value": "0.12"}]},
            ],
            "actions": [{"type": "Action.OpenUrl", "title": "Runbook", "url": RUNBOOK},
                        {"type": "Action.OpenUrl", "title": "Pipeline", "url": PIPELINE}],
        }}]}
    assert len(smtp.messages) == 1


def test_email_arrives_with_runbook_team_and_both_parts(session, smtp):
    from bayat_deploy.gates.notify import send

    [delivery] = [d for d in send(session, event="deploy-failed", level="critical", environment="production",
                                  title="Deployment of 1.4.0 to production failed", text="smoke test home: HTTP 500",
                                  version="1.4.0", now=NOW) if d.route == "mail"]
    assert delivery.status == "sent", delivery.detail
    [mail] = smtp.messages
    assert smtp.envelopes == [("deploy@example.com", ["oncall@example.com"])]
    assert mail["Subject"] == "[CRITICAL] shop production: Deployment of 1.4.0 to production failed"
    assert (mail["From"], mail["To"], mail["X-Bayat-Event"]) == ("deploy@example.com", "oncall@example.com",
                                                                 "deploy-failed")
    plain = mail.get_body(("plain",)).get_content()
    page = mail.get_body(("html",)).get_content()
    for text in (plain, page):
        assert RUNBOOK in text and "payments" in text and PIPELINE in text and "smoke test home: HTTP 500" in text
    assert "Runbook: " + RUNBOOK in plain and "Team: payments" in plain
    assert f'<a href="{RUNBOOK}">' in page


@pytest.mark.parametrize("environment, event, level, expected", [
    ("production", "alert", "critical", ["hooks", "chat", "teams", "mail"]),
    ("production", "deploy-started", "info", ["hooks", "mail"]),       # chat wants warning+, teams not this event
    ("production", "rollback", "info", ["hooks", "teams", "mail"]),
    ("production", "rollback", "warning", ["hooks", "chat", "teams", "mail"]),
    ("development", "alert", "critical", ["hooks"]),                   # the environment's notify list
])
def test_routes_are_chosen_by_event_level_and_environment(session, environment, event, level, expected):
    from bayat_deploy.gates.notify import routes_for

    assert [r.name for r in routes_for(session.policy, environment, event, level)] == expected


def test_a_burst_of_fifty_failures_is_one_message_per_route_then_one_summary(session, receiver, smtp):
    from bayat_deploy.gates.notify import flush

    results = []
    threads = [threading.Thread(target=lambda i=i: results.extend(alert(session, now=NOW + i))) for i in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    paths = ["/hooks", "/slack/T0001/B0002/SLACKTOKEN", "/teams"]
    assert [len(receiver.at(p)) for p in paths] == [1, 1, 1] and len(smtp.messages) == 1
    by_status = {(d.route, d.status) for d in results}
    assert sum(d.status == "sent" for d in results) == 4
    assert sum(d.status == "aggregated" for d in results) == 4 * 49 and len(by_status) == 8

    assert flush(session, "production", now=NOW + 100) == []  # the window is still open
    summaries = flush(session, "production", now=NOW + 350)  # closed, whichever thread opened it
    assert [(d.route, d.status, d.summary, d.occurrences) for d in summaries] == [
        (r, "sent", True, 50) for r in ("hooks", "chat", "teams", "mail")]
    summary = receiver.at("/hooks")[1].json
    assert summary["title"] == "Repeated: Error rate 12% (was 0.5%)"
    assert summary["aggregation"] == {"key": "production/alert/error_rate", "occurrences": 50, "first": AT,
                                      "last": "2026-01-01T00:00:49+00:00", "window_seconds": 300.0,
                                      "summary": True}
    assert "50 occurrences between" in receiver.at("/slack/T0001/B0002/SLACKTOKEN")[1].json["blocks"][-1][
        "elements"][-1]["text"]
    assert "50 occurrences" in smtp.messages[1].get_body(("plain",)).get_content()
    assert flush(session, "production", now=NOW + 351) == []  # said once
    # a new occurrence after the window is a new incident message
    assert {d.status for d in alert(session, now=NOW + 400)} == {"sent"}
    assert len(receiver.at("/hooks")) == 3


def test_a_worse_level_breaks_through_the_window_and_other_metrics_are_other_incidents(session, receiver):
    assert {d.status for d in alert(session, level="warning") if d.route == "hooks"} == {"sent"}
    assert {d.status for d in alert(session, level="warning", now=NOW + 5) if d.route == "hooks"} == {"aggregated"}
    [escalated] = [d for d in alert(session, level="critical", now=NOW + 10) if d.route == "hooks"]
    assert (escalated.status, escalated.occurrences) == ("sent", 2) and "escalated" in escalated.detail
    assert {d.status for d in alert(session, level="critical", now=NOW + 11) if d.route == "hooks"} == {"aggregated"}
    assert {d.status for d in alert(session, metric="latency_p95", now=NOW + 12) if d.route == "hooks"} == {"sent"}
    assert [r.json["level"] for r in receiver.at("/hooks")] == ["warning", "critical", "critical"]


def test_server_errors_are_retried_client_errors_are_not(session, receiver):
    receiver.script("/hooks", 503, 502)
    [hooks] = [d for d in alert(session) if d.route == "hooks"]
    assert (hooks.status, hooks.attempts) == ("sent", 3)
    receiver.script("/teams", 400)
    [teams] = [d for d in alert(session, metric="cpu") if d.route == "teams"]
    assert (teams.status, teams.attempts) == ("failed", 1) and "HTTP 400" in teams.detail


def test_a_failed_delivery_is_reported_without_the_secret_url_and_retried_next_time(session, receiver):
    receiver.script("/slack/T0001/B0002/SLACKTOKEN", 500, 500, 500)
    [chat] = [d for d in alert(session) if d.route == "chat"]
    assert chat.status == "failed" and "HTTP 500" in chat.detail and "(after 3 attempts)" in chat.detail
    assert "SLACKTOKEN" not in chat.detail
    [again] = [d for d in alert(session, now=NOW + 20) if d.route == "chat"]
    assert again.status == "sent" and "retry" in again.detail and again.occurrences == 2


def test_unreachable_and_unset_routes_fail_quietly(tmp_path, smtp):
    from bayat_deploy.gates.notify import send

    write_policy(tmp_path, smtp.port)
    from tests.support.registry import free_port

    dead = f"http://127.0.0.1:{free_port()}/hooks/SECRETPATH"
    session = open_session(tmp_path, {"HOOK_URL": dead, "SMTP_USER": smtp.username, "SMTP_PASSWORD": "wrong"})
    deliveries = {d.route: d for d in send(session, event="deploy-started", level="info", environment="production",
                                           title="t", text="x", now=NOW)}
    assert deliveries["hooks"].status == "failed" and "ConnectionError" in deliveries["hooks"].detail
    assert "SECRETPATH" not in deliveries["hooks"].detail
    assert deliveries["mail"].status == "failed" and "535" in deliveries["mail"].detail
    assert "wrong" not in deliveries["mail"].detail
    with pytest.raises(ValueError):
        send(session, event="deployed", level="info", environment="production", title="t", text="x")


# ---------------------------------------------------------------------------------------------- the command
def notify_cli(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """`bayat-deploy notify ...`, outside any CI."""
    import os

    from tests.conftest import BIN

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB", "CI_"))}
    return subprocess.run([str(BIN / "bayat-deploy"), "notify", *args], cwd=cwd, capture_output=True, text=True,
                          env={**clean, **env}, timeout=60)


def test_notify_command_sends_and_exits_one_when_a_route_fails(tmp_path, receiver, smtp):
    write_policy(tmp_path, smtp.port)
    env = route_env(receiver, smtp)
    done = notify_cli("--env", "production", "--event", "deploy-succeeded", "--version", "1.4.0",
                      "--detail", "url=http://shop.example.com", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    [body] = [r.json for r in receiver.at("/hooks")]
    assert (body["event"], body["level"], body["title"], body["details"]) == (
        "deploy-succeeded", "info", "1.4.0 is live in production", {"url": "http://shop.example.com"})
    evidence = json.loads((tmp_path / ".bayat/evidence/notify-production.json").read_text())
    assert [d["status"] for d in evidence["details"]["deliveries"]] == ["sent", "sent"]

    receiver.script("/teams", 404)
    failed = notify_cli("--env", "production", "--event", "rollback", "--level", "warning", cwd=tmp_path, env=env)
    assert failed.returncode == 1
    assert "teams (teams): failed" in failed.stdout and "/teams" not in failed.stdout + failed.stderr
    assert "1 of 4 route(s) failed: teams" in failed.stdout

    bad = notify_cli("--env", "production", "--event", "deployed", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


def test_an_unusable_aggregation_state_does_not_silence_alerts(tmp_path, receiver, smtp):
    from bayat_deploy.gates.notify import send

    write_policy(tmp_path, smtp.port)
    document = yaml.safe_load((tmp_path / ".bayat/deploy.yml").read_text())
    (tmp_path / "blocker").write_text("a file where the state directory should be\n")
    document["target"]["state_dir"] = str(tmp_path / "blocker" / "{environment}")
    (tmp_path / ".bayat/deploy.yml").write_text(yaml.safe_dump(document))
    session = open_session(tmp_path, route_env(receiver, smtp))
    for offset in (0, 1):
        [hooks] = [d for d in send(session, event="alert", level="critical", environment="production", title="t",
                                   text="x", details={"metric": "cpu"}, now=NOW + offset) if d.route == "hooks"]
        assert hooks.status == "sent" and "not aggregated" in hooks.detail
    assert len(receiver.at("/hooks")) == 2
