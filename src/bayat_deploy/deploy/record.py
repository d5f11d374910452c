"""The deployment record: append-only, one entry per attempt, safe under concurrent writers.

Each environment has a JSON-lines file and a lock file in its state directory. Deployments to one
environment serialise on the lock (`flock`): a second deploy waits up to its timeout, then fails with
who holds the lock and since when. Entries are never rewritten; a rollback is a new entry.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from bayat_deploy.errors import BayatError
from bayat_deploy.redact import redact_data

ACTIONS = ("deploy", "rollback", "promote", "abort", "drill", "flags", "decommission",
           "emergency")  # emergency: a maintenance-window override (bayat-deploy window check --emergency)
OUTCOMES = ("in-progress", "succeeded", "failed", "rolled-back", "paused", "aborted", "approved")


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


class DeploymentLocked(BayatError):
    """Raised when another deployment to the same environment holds the lock past our timeout."""


class Record:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.path = state_dir / "records.jsonl"
        self.lock_path = state_dir / "deploy.lock"

    def append(self, entry: Entry) -> Entry:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        entry.id = entry.id or f"{int(time.time() * 1000)}-{os.getpid()}"
        line = entry.to_json() + "\n"
        # O_APPEND makes each write land at the end; the flock keeps concurrent appends whole.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return entry

    def entries(self) -> list[Entry]:
        if not self.path.exists():
            return []
        entries = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
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

    @contextmanager
    def lock(self, holder: str, timeout: float = 600.0) -> Iterator[None]:
        """Hold the environment's deployment lock; wait up to `timeout` seconds for it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + timeout
            announced = False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    current = os.pread(fd, 4096, 0).decode(errors="replace").strip() or "unknown"
                    if time.monotonic() >= deadline:
                        raise DeploymentLocked(
                            f"another deployment holds {self.lock_path} ({current}); gave up after {timeout:g}s"
                        ) from None
                    if not announced:
                        print(f"waiting for the deployment lock held by: {current}", flush=True)
                        announced = True
                    time.sleep(0.2)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{holder}, pid {os.getpid()}, since {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}"
                      .encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
