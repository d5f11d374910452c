"""One nginx per environment on a Docker host (`router: nginx`): splits traffic between tracks by reloading.

nginx runs unprivileged in the sense that matters here: everything it writes (config, pid, logs,
temp files) lives under the environment's state directory, it listens on a loopback (or given)
address and a non-privileged port, and it is driven only with `nginx -p <prefix> -c <conf>`.
A new configuration is checked with `nginx -t` before it replaces the old one; `nginx -s reload`
swaps workers gracefully (old workers finish their requests), and the generation marker tells us
when the new configuration answers.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bayat_deploy.deploy.targets.routing import BaseRouter, RouterError, Server
from bayat_deploy.tools import run


class Router(BaseRouter):
    kind = "nginx"

    def __init__(self, prefix: Path, **settings):
        super().__init__(prefix, **settings)
        self.conf = prefix / "nginx.conf"

    def _nginx(self, *args: str, conf: Path | None = None):
        return run(["nginx", "-p", str(self.prefix), "-c", str(conf or self.conf), "-e",
                    str(self.prefix / "logs" / "error.log"), *args], timeout=30)

    def master_pid(self) -> int | None:
        try:
            pid = int((self.prefix / "nginx.pid").read_text().strip())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        return self.master_pid() is not None

    def render(self, servers: list[Server], generation: int) -> str:
        from bayat_deploy.deploy.targets.templates import render

        return render("nginx.conf.j2", project=self.project, environment=self.environment,
                      generation=generation, servers=servers, prefix=self.prefix, listen=self.listen,
                      port=self.port)

    def apply(self, servers: list[Server], generation: int) -> None:
        """Check and activate a configuration; on any failure the previous one keeps serving."""
        for folder in ("logs", "temp"):
            (self.prefix / folder).mkdir(parents=True, exist_ok=True)
        candidate = self.prefix / f"nginx.conf.{generation}.new"
        try:
            candidate.write_text(self.render(servers, generation))
        except OSError:
            candidate.unlink(missing_ok=True)
            raise
        checked = self._nginx("-t", conf=candidate)
        if checked.returncode != 0:
            candidate.unlink(missing_ok=True)
            raise RouterError(f"nginx -t rejected the new configuration; traffic is unchanged:\n"
                              f"{checked.stderr.strip()}")
        previous = self.conf.read_text() if self.conf.exists() else None
        old_workers = self._workers()
        os.replace(candidate, self.conf)
        self.failpoint("router-config-replaced")
        signal = self._nginx("-s", "reload") if self.running() else self._nginx()
        if signal.returncode != 0:
            if previous is not None:
                self.conf.write_text(previous)
            raise RouterError(f"nginx did not {'reload' if self.running() else 'start'}; traffic is unchanged:\n"
                              f"{signal.stderr.strip()}")
        self.wait_for_generation(generation)
        self._wait_until_not_accepting(old_workers)

    def rewrite(self, servers: list[Server], generation: int) -> None:
        """Put the configuration of a generation that serves back on disk, without a reload (an interrupted
        change left a newer file that nginx never loaded: a later reload must not activate it)."""
        from bayat_deploy.fsutil import write_atomic

        write_atomic(self.conf, self.render(servers, generation))
        for leftover in self.prefix.glob("nginx.conf.*.new"):
            leftover.unlink(missing_ok=True)

    def _workers(self) -> list[int]:
        master = self.master_pid()
        return _children(master) if master else []

    def _wait_until_not_accepting(self, pids: list[int], timeout: float = 10.0) -> None:
        """Until the old workers got the order to quit they still accept new connections with the old
        configuration; the shift is done only when each has exited or is shutting down."""
        deadline = time.monotonic() + timeout
        pending = list(pids)
        while pending and time.monotonic() < deadline:
            pending = [pid for pid in pending if (line := _cmdline(pid)) and "shutting down" not in line]
            if pending:
                time.sleep(0.01)

    def wait_for_old_workers(self, timeout: float = 30.0) -> bool:
        """After a reload, old workers finish in-flight requests and exit; wait for that before
        stopping the instances they were talking to. False if they are still there at the deadline."""
        master = self.master_pid()
        if master is None:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not any("shutting down" in _cmdline(pid) for pid in _children(master)):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.running():
            self._nginx("-s", "quit")
            deadline = time.monotonic() + 10
            while self.running() and time.monotonic() < deadline:
                time.sleep(0.05)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""
