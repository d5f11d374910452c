"""The deployment record: append-only, whole lines under concurrent writers, one deployment at a time."""

from __future__ import annotations

import multiprocessing
import time

import pytest

from bayat_deploy.deploy.record import DeploymentLocked, Entry, Record


def _writer(path, worker, count):
    record = Record(path)
    for i in range(count):
        record.append(Entry(environment="staging", action="deploy", version=f"{worker}.0.{i}", outcome="succeeded",
                            reason="x" * 2000))


def test_concurrent_writers_never_tear_a_line(tmp_path):
    processes = [multiprocessing.Process(target=_writer, args=(tmp_path, w, 100)) for w in range(4)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    entries = Record(tmp_path).entries()
    assert len(entries) == 400
    assert {e.version for e in entries} == {f"{w}.0.{i}" for w in range(4) for i in range(100)}


def test_last_successful_skips_failures_and_the_current_version(tmp_path):
    record = Record(tmp_path)
    for version, outcome in (("1.0.0", "succeeded"), ("2.0.0", "succeeded"), ("3.0.0", "failed")):
        record.append(Entry(environment="prod", action="deploy", version=version, outcome=outcome))
    assert record.last_successful().version == "2.0.0"
    assert record.last_successful(before_version="2.0.0").version == "1.0.0"


def test_a_release_that_was_rolled_back_from_is_never_the_last_good_one(tmp_path):
    record = Record(tmp_path)
    for action, version, outcome, previous in (("deploy", "1.0.0", "succeeded", ""),
                                              ("deploy", "1.1.0", "succeeded", "1.0.0"),
                                              ("rollback", "1.0.0", "succeeded", "1.1.0")):
        record.append(Entry(environment="prod", action=action, version=version, outcome=outcome,
                            previous_version=previous))
    assert record.last_successful().version == "1.0.0"
    assert record.last_successful(before_version="1.0.0") is None  # not 1.1.0: it was undone


def _hold(path, seconds, ready, leaving):
    with Record(path).lock("alice deploying 2.0.0"):
        ready.set()
        time.sleep(seconds)
        leaving.set()  # still inside the lock: whoever gets it next must see this


def test_a_second_deployment_waits_then_fails_naming_the_holder(tmp_path):
    ready, leaving = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold, args=(tmp_path, 3, ready, leaving))
    holder.start()
    assert ready.wait(10)
    started = time.monotonic()
    with pytest.raises(DeploymentLocked, match="alice deploying 2.0.0, pid"):
        with Record(tmp_path).lock("bob deploying 2.0.1", timeout=0.5):
            pass
    assert time.monotonic() - started >= 0.4  # it waited for the lock before giving up
    with Record(tmp_path).lock("bob deploying 2.0.1", timeout=10):  # waits for alice, then gets it
        assert leaving.is_set()
    holder.join(10)


def test_a_damaged_record_is_reported_with_its_line(tmp_path):
    record = Record(tmp_path)
    record.append(Entry(environment="prod", action="deploy", version="1.0.0", outcome="succeeded"))
    with (tmp_path / "records.jsonl").open("a") as handle:
        handle.write("{not json\n")
    with pytest.raises(Exception, match=r"records.jsonl:2: damaged record entry"):
        record.entries()
