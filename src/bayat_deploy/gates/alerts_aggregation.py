"""Alert aggregation (standard: "implement alert aggregation to prevent alert fatigue").

One incident is one key: environment + event + metric (e.g. `production/alert/error_rate`). Per key and
route, the first occurrence is sent at once and opens a window of `notifications.aggregate_window`.
Further occurrences inside the window are only counted. When the window has closed, one summary says how
many occurrences there were and the first/last time; it goes out with the next notification of the
environment, or from `bayat-deploy notify --flush` / the end of `bayat-deploy monitor`. So a burst of fifty
failures is one message per route, then one summary per route. Two things break through a window at once:
a higher level than the one already sent (warning -> critical), and a retry after a failed delivery.

The state is a small JSON file beside the deployment record, shared by concurrent processes under `flock`;
the lock is held only to decide, never while a message travels.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from bayat_deploy.fsutil import write_atomic
from bayat_deploy.gates.alerts_formats import Aggregation

SCHEMA = "bayat-deploy/alert-aggregation/v1"
AGGREGATED_EVENTS = ("alert", "deploy-failed")
LEVELS = ("info", "warning", "critical")
FILE_NAME = "notifications.json"


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat(timespec="seconds")


@dataclass
class Decision:
    send: bool
    aggregation: Aggregation
    reason: str = ""  # why it was sent inside a window (escalated, retry) or why it was held


@dataclass
class Summary:
    key: str
    route: str
    aggregation: Aggregation
    message: dict  # the last occurrence's message fields, to say what the summary is about


class AggregationState:
    def __init__(self, directory: Path, window_seconds: float):
        self.path = directory / FILE_NAME
        self.lock_path = directory / (FILE_NAME + ".lock")
        self.window = window_seconds

    # ------------------------------------------------------------------ storage
    @contextmanager
    def _locked(self) -> Iterator[dict]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            state = self._read()
            before = json.dumps(state, sort_keys=True, default=str)
            yield state
            after = json.dumps(state, indent=2, sort_keys=True, default=str)
            if json.dumps(json.loads(after), sort_keys=True) != before:
                write_atomic(self.path, after + "\n")
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _read(self) -> dict:
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"schema": SCHEMA, "records": {}}
        except ValueError:
            # a damaged state file must not silence alerts: start afresh (at worst one extra message)
            return {"schema": SCHEMA, "records": {}}
        if state.get("schema") != SCHEMA or not isinstance(state.get("records"), dict):
            return {"schema": SCHEMA, "records": {}}
        return state

    def records(self) -> dict:
        return self._read()["records"]

    # ------------------------------------------------------------------ decisions
    def claim(self, key: str, route: str, level: str, now: float, message: dict) -> Decision:
        """Decide whether this occurrence goes out on `route` now, and record it either way."""
        with self._locked() as state:
            records = state["records"]
            name = f"{key}|{route}"
            record = records.get(name)
            if record is None or now - record["window_start"] >= self.window:
                carried = record["pending"] if record else 0
                first = record["pending_first"] if carried else now
                records[name] = {"key": key, "route": route, "window_start": now, "level": level, "count": 1,
                                 "first": now, "last": now, "pending": 0, "pending_first": None,
                                 "pending_last": None, "delivered": True, "message": message}
                return Decision(True, Aggregation(key, carried + 1, iso(first), iso(now), self.window),
                                "carries earlier occurrences" if carried else "")
            record["count"] += 1
            record["first"], record["last"] = min(record["first"], now), max(record["last"], now)
            record["message"] = message
            escalated = LEVELS.index(level) > LEVELS.index(record["level"])
            if escalated or not record["delivered"]:
                occurrences = record["pending"] + 1
                first = record["pending_first"] if record["pending"] else now
                record.update(level=max(level, record["level"], key=LEVELS.index), pending=0, pending_first=None,
                              pending_last=None, delivered=True)
                return Decision(True, Aggregation(key, occurrences, iso(first), iso(now), self.window),
                                "escalated" if escalated else "retry after a failed delivery")
            record["pending"] += 1
            record["pending_first"] = min(record["pending_first"] or now, now)
            record["pending_last"] = max(record["pending_last"] or now, now)
            return Decision(False, Aggregation(key, record["count"], iso(record["first"]), iso(now), self.window),
                            f"aggregated: occurrence {record['count']} within "
                            f"{self.window:g}s of the first (summary when the window closes)")

    def settle(self, key: str, route: str, delivered: bool, at: float) -> None:
        """Record whether a claimed message arrived. An undelivered occurrence counts as pending: the next
        occurrence tries again and carries it, or the summary reports it when the window closes."""
        if delivered:
            return
        with self._locked() as state:
            record = state["records"].get(f"{key}|{route}")
            if record is not None:
                record["delivered"] = False
                record["pending"] += 1
                record["pending_first"] = min(record["pending_first"] or at, at)
                record["pending_last"] = max(record["pending_last"] or at, at)

    def due_summaries(self, now: float, *, force: bool = False) -> list[Summary]:
        """Take the summaries of closed windows (all pending ones with `force`) out of the state."""
        due = []
        with self._locked() as state:
            for name, record in list(state["records"].items()):
                closed = now - record["window_start"] >= self.window
                if record["pending"] and (closed or force):
                    due.append(Summary(record["key"], record["route"],
                                       Aggregation(record["key"], record["count"], iso(record["first"]),
                                                   iso(record["last"]), self.window, summary=True),
                                       record["message"]))
                    record.update(pending=0, pending_first=None, pending_last=None)
                if closed and not record["pending"] and now - record["window_start"] >= 10 * self.window:
                    del state["records"][name]  # keep the file small: long-closed incidents are forgotten
        return due
