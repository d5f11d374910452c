"""The deployment record: append-only, every attempt written ahead, safe under concurrent writers.

Each environment has a JSON-lines document and a lock in its state store (a directory on the host,
or a ConfigMap and a Lease in the cluster). Deployments to one environment serialise on the lock: a
second deploy waits up to its timeout, then fails with who holds the lock and since when. Entries are
never rewritten; a rollback is a new entry.

An attempt is written ahead: an `in-progress` entry (version, digest, the tracks it means to run, pid and
runner) before anything changes, and its final entry (`details.attempt` = the first one's id) after. A
process killed in between leaves its in-progress entry open; the next command that holds the lock finds
it (`open_attempts`), repairs the environment and closes it as `interrupted`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from bayat_deploy.deploy.state.base import DeploymentLocked  # noqa: F401  (raised by Record.lock)
from bayat_deploy.errors import BayatError
from bayat_deploy.redact import redact_data

if TYPE_CHECKING:
    from bayat_deploy.deploy.state.base import Store

ACTIONS = ("deploy", "rollback", "promote", "abort", "drill", "flags", "decommission",
           "emergency")  # emergency: a maintenance-window override (bayat-deploy window check --emergency)
OUTCOMES = ("in-progress", "succeeded", "failed", "rolled-back", "paused", "aborted", "approved", "interrupted")


@dataclass
class Entry:
    environment: str
    action: str  # one of ACTIONS
    version: str
    outcome: str  # one of OUTCOMES
    strategy: str = ""
    image: str = ""
    digest: str = ""
    config_hash: str = ""
    triggered_by: str = ""
    pipeline_url: str = ""
    commit: str = ""
    started: str = ""
    finished: str = ""
    duration_seconds: float = 0.0
    previous_version: str = ""
    reason: str = ""
    details: dict = field(default_factory=dict)
    id: str = ""  # filled in on append: <unix ms>-<pid>

    def to_json(self) -> str:
        return json.dumps(redact_data(asdict(self)), sort_keys=True, default=str)


class Record:
    """The environment's record in its state store (a directory, the cluster: see deploy/state)."""

    KEY = "records.jsonl"

    def __init__(self, store: "Store | Path", on_append: "Callable[[Entry], None] | None" = None):
        if isinstance(store, (str, Path)):
            from bayat_deploy.deploy.state.directory import DirectoryStore

            store = DirectoryStore(Path(store))
        self.store = store
        self.on_append = on_append  # e.g. the platform's audit trail, told of every entry once it is stored

    @property
    def path(self) -> str:
        """Where the record is, for messages."""
        return self.store.describe(self.KEY)

    def append(self, entry: Entry) -> Entry:
        entry.id = entry.id or f"{int(time.time() * 1000)}-{os.getpid()}"
        self.store.append(self.KEY, entry.to_json() + "\n")
        if self.on_append:
            self.on_append(entry)
        return entry

    def begin(self, entry: Entry, **intent) -> Entry:
        """Write an attempt ahead: `entry` as in-progress, with who runs it where and what it intends."""
        import socket

        entry.outcome = "in-progress"
        entry.details = {**entry.details, **intent, "pid": os.getpid(), "runner": socket.gethostname()}
        return self.append(entry)

    def finish(self, attempt: Entry | None, entry: Entry) -> Entry:
        """The final entry of an attempt begun with `begin` (None: an attempt that was never written ahead)."""
        if attempt is not None:
            entry.details = {**entry.details, "attempt": attempt.id}
        return self.append(entry)

    def open_attempts(self) -> list[Entry]:
        """In-progress entries no final entry answers: running now, or interrupted (judge under the lock)."""
        return [e for e in self.attempts() if e.outcome == "in-progress"]

    def attempts(self) -> list[Entry]:
        """One entry per attempt: its final entry, or its in-progress entry while it has none (what `history`
        shows; the record itself keeps both)."""
        entries = self.entries()
        answered = {e.details.get("attempt") for e in entries if e.outcome != "in-progress"}
        return [e for e in entries if not (e.outcome == "in-progress" and e.id in answered)]

    def entries(self) -> list[Entry]:
        text = self.store.read(self.KEY)
        if not text:
            return []
        entries = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entries.append(Entry(**json.loads(line)))
            except (ValueError, TypeError) as exc:
                raise BayatError(f"{self.path}:{number}: damaged record entry: {exc}") from None
        return entries

    def last_successful(self, *, before_version: str | None = None) -> Entry | None:
        """The newest entry that left a good version serving (a succeeded deploy, promote or rollback).

        A version that was later rolled back from is not good, even though its deployment succeeded:
        otherwise a second rollback (a pipeline's rollback job after verify already rolled back) would
        return to the very release that was undone.
        """
        undone: set[str] = set()
        for entry in reversed(self.entries()):
            if entry.action == "rollback" and entry.outcome == "succeeded" and entry.previous_version:
                undone.add(entry.previous_version)
            if entry.outcome == "succeeded" and entry.action in ("deploy", "rollback", "promote"):
                if entry.version in undone and entry.action != "rollback":
                    continue
                if before_version is None or entry.version != before_version:
                    return entry
        return None

    def lock(self, holder: str, timeout: float = 600.0):
        """Hold the environment's deployment lock; wait up to `timeout` seconds for it."""
        return self.store.lock(holder, timeout)
