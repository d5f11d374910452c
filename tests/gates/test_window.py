"""Maintenance windows: DST transitions in two zones, windows across midnight, bi-weekly windows, `--at`
parsing, and the emergency override's record entry, evidence and announcement.

DST dates used (2026): Europe/Berlin springs forward Sun 29 Mar 02:00 CET -> 03:00 CEST (01:00 UTC) and
falls back Sun 25 Oct 03:00 CEST -> 02:00 CET (01:00 UTC); America/New_York springs forward Sun 8 Mar
02:00 EST -> 03:00 EDT (07:00 UTC) and falls back Sun 1 Nov 02:00 EDT -> 01:00 EST (06:00 UTC).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bayat_deploy.gates.window import decide, parse_instant, upcoming_openings
from bayat_deploy.policy.model.environment import Maintenance, MaintenanceWindow
from bayat_deploy.policy.types import CronSchedule, Duration, IsoDate, TimeZone


def window(cron: str, duration: str, zone: str = "UTC", every_weeks: int = 1, anchor: str | None = None):
    return MaintenanceWindow(cron=CronSchedule.parse(cron), duration=Duration.parse(duration),
                             timezone=TimeZone.parse(zone), every_weeks=every_weeks,
                             anchor=IsoDate.parse(anchor) if anchor else None)


BERLIN_SUNDAY = window("0 2 * * SUN", "3h", "Europe/Berlin")
NEW_YORK_SUNDAY = window("0 2 * * SUN", "3h", "America/New_York")
NEW_YORK_0130 = window("30 1 * * SUN", "2h", "America/New_York")
UTC_SUNDAY = window("0 2 * * SUN", "3h")  # the standard's production window
SATURDAY_NIGHT = window("0 23 * * SAT", "4h")
SATURDAY_NIGHT_BERLIN = window("0 23 * * SAT", "4h", "Europe/Berlin")
BIWEEKLY = window("0 10 * * TUE", "4h", every_weeks=2, anchor="2026-01-06")  # the standard's staging window
IN_THE_GAP = window("15 2 * * SUN", "30m", "Europe/Berlin")
ENDS_IN_THE_GAP = window("0 1 * * SUN", "90m", "Europe/Berlin")
ENDS_TWICE = window("0 0 * * SUN", "90m", "America/New_York")

# (case, window, --at, inside?, the open window [start, end) or the next opening's start, in UTC)
CASES = [
    # Europe/Berlin, spring forward: 02:00 does not exist, the window opens at 03:00 CEST and ends at 05:00 CEST.
    ("berlin-spring-before", BERLIN_SUNDAY, "2026-03-29T00:59:59Z", False, "2026-03-29T01:00:00+00:00"),
    ("berlin-spring-opens-at-jump", BERLIN_SUNDAY, "2026-03-29T01:00:00Z", True,
     ("2026-03-29T01:00:00+00:00", "2026-03-29T03:00:00+00:00")),
    ("berlin-spring-closes-0500-cest", BERLIN_SUNDAY, "2026-03-29T03:00:00Z", False, "2026-04-05T00:00:00+00:00"),
    ("berlin-normal-sunday", BERLIN_SUNDAY, "2026-03-22T03:59:00Z", True,
     ("2026-03-22T01:00:00+00:00", "2026-03-22T04:00:00+00:00")),
    # Europe/Berlin, fall back: 02:00 happens twice; the first (CEST) counts; it closes at 05:00 CET = 4h later.
    ("berlin-fall-first-occurrence", BERLIN_SUNDAY, "2026-10-25T00:00:00Z", True,
     ("2026-10-25T00:00:00+00:00", "2026-10-25T04:00:00+00:00")),
    ("berlin-fall-still-open-0430-cet", BERLIN_SUNDAY, "2026-10-25T03:30:00Z", True,
     ("2026-10-25T00:00:00+00:00", "2026-10-25T04:00:00+00:00")),
    ("berlin-fall-before", BERLIN_SUNDAY, "2026-10-24T23:59:00Z", False, "2026-10-25T00:00:00+00:00"),
    # America/New_York: 02:00 is in the gap in March (opens 03:00 EDT), exists once in November (02:00 EST).
    ("new-york-spring-gap", NEW_YORK_SUNDAY, "2026-03-08T06:30:00Z", False, "2026-03-08T07:00:00+00:00"),
    ("new-york-spring-open", NEW_YORK_SUNDAY, "2026-03-08T08:59:00Z", True,
     ("2026-03-08T07:00:00+00:00", "2026-03-08T09:00:00+00:00")),
    ("new-york-fall-0200-est", NEW_YORK_SUNDAY, "2026-11-01T06:30:00Z", False, "2026-11-01T07:00:00+00:00"),
    ("new-york-fall-open", NEW_YORK_SUNDAY, "2026-11-01T09:59:00Z", True,
     ("2026-11-01T07:00:00+00:00", "2026-11-01T10:00:00+00:00")),
    # 01:30 New York: before the March gap it ends at 03:30 EDT (1h elapsed); in November it starts at the
    # first 01:30 (EDT) and ends at 03:30 EST (3h elapsed).
    ("new-york-0130-spring", NEW_YORK_0130, "2026-03-08T07:29:00Z", True,
     ("2026-03-08T06:30:00+00:00", "2026-03-08T07:30:00+00:00")),
    ("new-york-0130-spring-closed", NEW_YORK_0130, "2026-03-08T07:30:00Z", False, "2026-03-15T05:30:00+00:00"),
    ("new-york-0130-fall", NEW_YORK_0130, "2026-11-01T08:00:00Z", True,
     ("2026-11-01T05:30:00+00:00", "2026-11-01T08:30:00+00:00")),
    # Ends that fall into the gap or the repeated hour.
    ("end-in-gap", ENDS_IN_THE_GAP, "2026-03-29T00:59:00Z", True,
     ("2026-03-29T00:00:00+00:00", "2026-03-29T01:00:00+00:00")),
    ("end-repeated-hour", ENDS_TWICE, "2026-11-01T05:29:00Z", True,
     ("2026-11-01T04:00:00+00:00", "2026-11-01T05:30:00+00:00")),
    ("end-repeated-hour-closed", ENDS_TWICE, "2026-11-01T05:30:00Z", False, "2026-11-08T05:00:00+00:00"),
    # A window wholly inside the gap does not open that day.
    ("wholly-in-gap", IN_THE_GAP, "2026-03-29T00:00:00Z", False, "2026-04-05T00:15:00+00:00"),
    # Across midnight: Saturday 23:00 + 4h is open early on Sunday.
    ("midnight-saturday", SATURDAY_NIGHT, "2026-03-07T23:00:00Z", True,
     ("2026-03-07T23:00:00+00:00", "2026-03-08T03:00:00+00:00")),
    ("midnight-sunday-morning", SATURDAY_NIGHT, "2026-03-08T02:59:59Z", True,
     ("2026-03-07T23:00:00+00:00", "2026-03-08T03:00:00+00:00")),
    ("midnight-closed", SATURDAY_NIGHT, "2026-03-08T03:00:00Z", False, "2026-03-14T23:00:00+00:00"),
    ("midnight-across-dst", SATURDAY_NIGHT_BERLIN, "2026-03-29T00:59:00Z", True,
     ("2026-03-28T22:00:00+00:00", "2026-03-29T01:00:00+00:00")),
    # Bi-weekly from the anchor week (Tue 6 Jan 2026): 20 Jan yes, 13 Jan no; weeks before the anchor count too.
    ("biweekly-on", BIWEEKLY, "2026-01-20T11:00:00Z", True,
     ("2026-01-20T10:00:00+00:00", "2026-01-20T14:00:00+00:00")),
    ("biweekly-off-week", BIWEEKLY, "2026-01-13T11:00:00Z", False, "2026-01-20T10:00:00+00:00"),
    ("biweekly-before-anchor", BIWEEKLY, "2025-12-23T10:30:00Z", True,
     ("2025-12-23T10:00:00+00:00", "2025-12-23T14:00:00+00:00")),
    ("biweekly-before-anchor-off", BIWEEKLY, "2025-12-30T10:30:00Z", False, "2026-01-06T10:00:00+00:00"),
    # UTC: DST changes elsewhere do not move it.
    ("utc-on-berlin-dst-day", UTC_SUNDAY, "2026-03-29T02:00:00Z", True,
     ("2026-03-29T02:00:00+00:00", "2026-03-29T05:00:00+00:00")),
    ("utc-end-exclusive", UTC_SUNDAY, "2026-03-29T05:00:00Z", False, "2026-04-05T02:00:00+00:00"),
]


def _utc(moment):
    return moment.astimezone(parse_instant("2026-01-01T00:00Z").tzinfo).isoformat()


@pytest.mark.parametrize("case,win,at,inside,expected", CASES, ids=[c[0] for c in CASES])
def test_window_decision(case, win, at, inside, expected):
    decision = decide(Maintenance(windows=(win,)), parse_instant(at))
    assert decision.inside is inside
    if inside:
        assert (_utc(decision.current.start), _utc(decision.current.end)) == expected
        assert decision.next.start > decision.current.start
    else:
        assert _utc(decision.next.start) == expected


def test_dst_adjustments_are_explained():
    spring = decide(Maintenance(windows=(BERLIN_SUNDAY,)), parse_instant("2026-03-29T01:30Z")).current
    fall = decide(Maintenance(windows=(BERLIN_SUNDAY,)), parse_instant("2026-10-25T01:30Z")).current
    assert "02:00 does not exist" in spring.note and "03:00 CEST" in spring.describe()
    assert "occurs twice" in fall.note and "the first occurrence counts" in fall.note


def test_next_openings_merge_windows_in_time_order():
    windows = (UTC_SUNDAY, SATURDAY_NIGHT)
    openings = upcoming_openings(windows, parse_instant("2026-03-05T00:00Z"), 4)
    assert [(_utc(o.start), o.index) for o in openings] == [
        ("2026-03-07T23:00:00+00:00", 1), ("2026-03-08T02:00:00+00:00", 0),
        ("2026-03-14T23:00:00+00:00", 1), ("2026-03-15T02:00:00+00:00", 0)]


def test_no_windows_means_not_restricted():
    decision = decide(Maintenance(), parse_instant("2026-03-05T00:00Z"))
    assert not decision.restricted and decision.as_dict()["decision"] == "not-restricted"


AT_INPUTS = [
    ("2026-03-29T03:30:00+02:00", "2026-03-29T01:30:00+00:00"),
    ("2026-03-29T01:30Z", "2026-03-29T01:30:00+00:00"),
    ("2026-03-29T01:30:00z", "2026-03-29T01:30:00+00:00"),
    ("2026-03-29T01:30:00", "2026-03-29T01:30:00+00:00"),  # no offset: UTC
    ("2026-03-29 01:30", "2026-03-29T01:30:00+00:00"),
    ("2026-03-28T21:30:00-04:00", "2026-03-29T01:30:00+00:00"),
    ("2026-03-29", "2026-03-29T00:00:00+00:00"),
]


@pytest.mark.parametrize("text,expected", AT_INPUTS)
def test_at_parsing(text, expected):
    assert parse_instant(text).isoformat() == expected


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-13-01T00:00Z", "2026-03-29T25:00", "29/03/2026 02:00"])
def test_bad_at_is_rejected(text):
    with pytest.raises(ValueError, match="ISO 8601|empty"):
        parse_instant(text)


# ---------------------------------------------------------------------------------------------- the CLI
def berlin_policy(**emergency):
    return {"project": "demo", "environments": {"production": {"maintenance": {
        "windows": [{"cron": "0 2 * * SUN", "duration": "3h", "timezone": "Europe/Berlin",
                     "description": "Weekly production maintenance"}],
        "emergency": {"allowed": True, "approvers": ["alice", "management"], **emergency}}}}}


@pytest.mark.parametrize("at,code,words", [
    ("2026-03-29T01:30:00Z", 0, ["inside a maintenance window", "03:00 CEST", "01:00 UTC"]),
    ("2026-03-29T00:30:00Z", 1, ["outside every maintenance window", "next opening", "Sun 2026-03-29 03:00 CEST",
                                 "2026-03-29 01:00 UTC"]),
    ("2026-03-29T02:30:00+01:00", 0, ["inside"]),  # 01:30 UTC given with an offset
    ("not-a-time", 2, ["--at", "ISO 8601"]),
])
def test_window_check_exit_codes(gate_repo, at, code, words):
    gate_repo.policy(berlin_policy())
    result = gate_repo.run("window", "check", "--env", "production", "--at", at)
    assert result.code == code, result.stdout + result.stderr
    for word in words:
        assert word in result.stdout + result.stderr
    evidence_file = gate_repo.evidence / "window-production.json"
    assert evidence_file.exists() == (code != 2)
    if code != 2:
        details = json.loads(evidence_file.read_text())["details"]
        assert details["decision"] == ("inside" if code == 0 else "outside")
        assert details["next_opening"]["timezone"] == "Europe/Berlin"


def test_environment_without_windows_is_not_restricted(gate_repo):
    gate_repo.policy({"project": "demo"})
    result = gate_repo.run("window", "check", "--env", "development")
    assert result.code == 0 and "not restricted" in result.stdout
    assert gate_repo.run("window", "next", "--env", "development").stdout.strip().endswith("no maintenance windows "
                                                                                          "in the policy")


def test_window_next_lists_local_and_utc(gate_repo):
    gate_repo.policy(berlin_policy())
    result = gate_repo.run("window", "next", "--env", "production", "--at", "2026-03-20T00:00Z", "--count", "2")
    assert result.code == 0
    lines = result.stdout.splitlines()[1:]
    assert lines[0].strip().startswith("Sun 2026-03-22 02:00 CET (2026-03-22 01:00 UTC) until 05:00 CET")
    assert lines[1].strip().startswith("Sun 2026-03-29 03:00 CEST (2026-03-29 01:00 UTC) until 05:00 CEST")
    assert "does not exist" in lines[1]


@pytest.mark.parametrize("flags,missing", [
    (["--emergency"], "--reason and --approved-by"),
    (["--emergency", "--reason", "INC-7"], "--approved-by"),
    (["--emergency", "--approved-by", "alice"], "--reason"),
    (["--reason", "INC-7", "--approved-by", "alice"], "add --emergency"),
])
def test_emergency_needs_both_flags(gate_repo, flags, missing):
    gate_repo.policy(berlin_policy())
    result = gate_repo.run("window", "check", "--env", "production", "--at", "2026-03-25T12:00Z", *flags)
    assert result.code == 2 and missing in result.stderr
    assert not (gate_repo.evidence / "window-production.json").exists()
    assert gate_repo.records("production") == []


class Receiver:
    """A webhook endpoint on loopback that keeps every JSON body it is sent."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    instance = Receiver()
    yield instance
    instance.close()


def test_emergency_override_is_recorded_evidenced_and_announced(gate_repo, receiver):
    policy = berlin_policy()
    policy["notifications"] = {"routes": [{"name": "ops", "type": "webhook", "url": receiver.url}]}
    gate_repo.policy(policy)
    result = gate_repo.run("window", "check", "--env", "production", "--at", "2026-03-25T12:00Z", "--emergency",
                           "--reason", "INC-7: payments down", "--approved-by", "bob,alice", "--version", "1.4.1")
    assert result.code == 0, result.stdout + result.stderr
    assert "EMERGENCY override" in result.stdout and "approved by alice" in result.stdout

    [entry] = gate_repo.records("production")
    assert entry["action"] == "emergency" and entry["outcome"] == "approved"
    assert entry["reason"] == "INC-7: payments down" and entry["version"] == "1.4.1"
    assert entry["triggered_by"] == "ci-runner" and entry["commit"] == gate_repo.sha
    assert entry["details"]["approved_by"] == ["bob", "alice"]
    assert entry["details"]["next_opening"]["start_utc"] == "2026-03-29 01:00 UTC"

    envelope = json.loads((gate_repo.evidence / "window-production.json").read_text())
    override = envelope["details"]["override"]
    assert envelope["status"] == "pass" and envelope["details"]["decision"] == "emergency"
    assert envelope["commit"] == gate_repo.sha
    assert override["granted"] and override["record_entry"] == entry["id"]
    assert override["approver_groups"] == ["management"] and override["approver_users"] == ["alice"]
    assert [d["status"] for d in override["announced"]] == ["sent"]

    [message] = receiver.received
    assert "INC-7: payments down" in json.dumps(message) and "production" in json.dumps(message)

    history = gate_repo.run("history", "--env", "production", "--format", "json")
    if history.code == 0:  # the history command is registered: the override shows in the audit trail
        assert [e["action"] for e in json.loads(history.stdout)] == ["emergency"]


@pytest.mark.parametrize("policy_emergency,approved_by,why", [
    ({"allowed": False}, "alice", "not allowed in production"),
    ({}, "mallory", "none of mallory may approve"),
    ({}, "ci-runner", "cannot approve their own emergency"),  # the actor (USER in the tests) approving themself
])
def test_emergency_refusals_are_recorded_as_evidence_only(gate_repo, policy_emergency, approved_by, why):
    gate_repo.policy(berlin_policy(**policy_emergency))
    result = gate_repo.run("window", "check", "--env", "production", "--at", "2026-03-25T12:00Z", "--emergency",
                           "--reason", "INC-8", "--approved-by", approved_by)
    assert result.code == 1 and why in result.stdout
    override = json.loads((gate_repo.evidence / "window-production.json").read_text())["details"]["override"]
    assert override["granted"] is False and why in override["why"]
    assert gate_repo.records("production") == []


def test_group_approvers_are_recorded_and_left_to_the_platform(gate_repo):
    gate_repo.policy(berlin_policy(approvers=["management"]))
    result = gate_repo.run("window", "check", "--env", "production", "--at", "2026-03-25T12:00Z", "--emergency",
                           "--reason", "INC-9", "--approved-by", "carol")
    assert result.code == 0
    assert "enforced by the platform" in result.stdout
    assert gate_repo.records("production")[0]["details"]["approver_groups"] == ["management"]


def test_emergency_inside_a_window_records_nothing(gate_repo):
    gate_repo.policy(berlin_policy())
    result = gate_repo.run("window", "check", "--env", "production", "--at", "2026-03-29T01:30Z", "--emergency",
                           "--reason", "INC-10", "--approved-by", "alice")
    assert result.code == 0 and "no override recorded" in result.stdout
    assert gate_repo.records("production") == []


# ---------------------------------------------------------------------------------------------- announcements
@pytest.mark.parametrize("at,due", [
    ("2026-03-28T00:59:59Z", False),  # 24h + 1s before the opening (Sun 03:00 CEST = 01:00 UTC): not yet
    ("2026-03-28T01:00:00Z", True),   # exactly announce_before ahead
    ("2026-03-28T01:59:59Z", True),   # the hourly run after that moment still finds it due
    ("2026-03-28T02:00:00Z", False),  # an hour later: the run before already announced it
])
def test_each_opening_is_announced_by_exactly_one_run_of_the_schedule(gate_repo, at, due):
    from bayat_deploy.gates.window import announcement_due, parse_instant
    from tests.versioning.support import session_for

    gate_repo.policy(berlin_policy())
    maintenance = session_for(gate_repo.root).policy.environment("production").maintenance
    opening = announcement_due(maintenance, parse_instant(at), every=3600)
    assert (opening is not None) == due
    if due:
        assert opening.start.isoformat() == "2026-03-29T03:00:00+02:00"


def test_window_announce_tells_the_routes_once_and_otherwise_says_when(gate_repo, receiver):
    policy = berlin_policy()
    policy["notifications"] = {"routes": [{"name": "ops", "type": "webhook", "url": receiver.url}]}
    gate_repo.policy(policy)
    early = gate_repo.run("window", "announce", "--env", "production", "--at", "2026-03-27T12:00Z")
    assert early.code == 0 and "no announcement due" in early.stdout, early.stdout + early.stderr
    assert "is announced from 2026-03-28 01:00 UTC" in early.stdout and not receiver.received
    due = gate_repo.run("window", "announce", "--env", "production", "--at", "2026-03-28T01:30Z")
    assert due.code == 0 and "announced Sun 2026-03-29 03:00 CEST" in due.stdout, due.stdout + due.stderr
    [message] = receiver.received
    assert "Maintenance of production" in json.dumps(message) and "2026-03-29T03:00:00+02:00" in json.dumps(message)
    development = gate_repo.run("window", "announce", "--env", "development")
    assert development.code == 0 and "nothing to announce" in development.stdout
