"""State in a directory of the machine the command runs on: a laptop, or the Docker host whose
self-hosted runner runs the job. `flock` serialises writers; nothing survives a fresh hosted runner."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from bayat_deploy.deploy.state.base import DeploymentLocked, Store
from bayat_deploy.fsutil import write_atomic


class DirectoryStore(Store):
    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.where = str(self.directory)

    def path(self, key: str) -> Path:
        return self.directory / key

    def describe(self, key: str) -> str:
        return str(self.path(key))

    def read(self, key: str) -> str | None:
        try:
            return self.path(key).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    @contextmanager
    def _exclusive(self, key: str) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.directory / f".{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def update(self, key: str, change: Callable[[str | None], str]) -> str:
        with self._exclusive(key):
            text = change(self.read(key))
            write_atomic(self.path(key), text)
            return text

    def append(self, key: str, text: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # O_APPEND makes each write land at the end; the flock keeps concurrent appends whole.
        fd = os.open(self.path(key), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, text.encode())
            os.fsync(fd)
        except OSError as exc:
            exc.filename = exc.filename or str(self.path(key))
            raise
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    @contextmanager
    def lock(self, holder: str, timeout: float = 600.0) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        lock_path = self.directory / "deploy.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
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
                            f"another deployment holds {lock_path} ({current}); gave up after {timeout:g}s"
                        ) from None
                    if not announced:
                        print(f"waiting for the deployment lock held by: {current}", flush=True)
                        announced = True
                    time.sleep(0.2)
            try:  # who holds it, for a deployment that waits: a full disk must not stop the one that holds it
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{holder}, pid {os.getpid()}, since "
                          f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}".encode(), 0)
            except OSError:
                pass
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
