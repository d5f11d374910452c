"""A load generator for switch tests: steady GET traffic through the router, every answer counted.

Two connection modes, both reported by the benchmark:
- "keepalive": persistent connections, with the one retry of an idempotent request on a stale pooled
  connection that HTTP clients (browsers, urllib3, curl) make; a request that still fails counts.
- "fresh": a new connection per request; nothing is retried.
Bounded: it stops when told, or at its own time limit, and only ever targets the URL given (loopback).
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


@dataclass
class Sample:
    at: float
    ok: bool
    version: str
    phase: str
    error: str = ""


@dataclass
class LoadGenerator:
    url: str
    threads: int = 4
    mode: str = "keepalive"
    limit_seconds: float = 300.0
    rate: float = 0.0  # requests per second over all threads; 0: as fast as the service answers
    samples: list[Sample] = field(default_factory=list)
    phase: str = "start"

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []

    def _session(self) -> requests.Session:
        session = requests.Session()
        retry = Retry(total=1, connect=1, read=1, status=0, other=0, allowed_methods={"GET"}, raise_on_status=False)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        return session

    def _run(self) -> None:
        session = self._session() if self.mode == "keepalive" else None
        deadline = time.monotonic() + self.limit_seconds
        gap = self.threads / self.rate if self.rate > 0 else 0.0
        due = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            if gap:
                due += gap
                self._stop.wait(max(0.0, due - time.monotonic()))
            phase = self.phase
            try:
                if session is not None:
                    response = session.get(self.url, timeout=10)
                else:
                    response = requests.get(self.url, timeout=10, headers={"Connection": "close"})
                ok = response.status_code == 200
                version = response.json().get("version", "") if ok else ""
                sample = Sample(time.monotonic(), ok, version, phase, "" if ok else f"HTTP {response.status_code}")
            except (requests.RequestException, ValueError) as exc:
                sample = Sample(time.monotonic(), False, "", phase, type(exc).__name__)
            with self._lock:
                self.samples.append(sample)

    def __enter__(self) -> "LoadGenerator":
        self.samples.clear()
        self._workers = [threading.Thread(target=self._run, daemon=True) for _ in range(self.threads)]
        for worker in self._workers:
            worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=15)

    def during(self, phase: str) -> None:
        self.phase = phase

    def stats(self, phase: str | None = None) -> dict:
        with self._lock:
            chosen = [s for s in self.samples if phase is None or s.phase == phase]
        return {"requests": len(chosen), "failed": sum(not s.ok for s in chosen),
                "versions": dict(collections.Counter(s.version for s in chosen if s.ok)),
                "errors": dict(collections.Counter(s.error for s in chosen if not s.ok))}

    def first_time_only(self, version: str, after: float) -> float | None:
        """Seconds after `after` from which every answer came from `version` (rollback-time measurement)."""
        with self._lock:
            later = [s for s in self.samples if s.at >= after]
        last_other = max((s.at for s in later if s.ok and s.version != version), default=None)
        if last_other is None:
            first = next((s.at for s in later if s.version == version), None)
        else:
            first = next((s.at for s in later if s.at > last_other and s.version == version), None)
        return None if first is None else first - after
