"""One HAProxy per environment on a Docker host (`router: haproxy`, the default): traffic changes without a
reload.

Everything it writes (config, pid, the admin socket, the generation map) lives under the environment's
state directory; it listens on a loopback (or given) address and a non-privileged port. The first split
starts it; every later one is a handful of runtime API commands on its admin socket: new instances are
added in maintenance, weights set, the new ones made ready and the leaving ones put in maintenance (they
finish what they serve and get nothing new), then the generation map says which split serves. No
connection a client holds is closed, which is what a reload of nginx cannot promise. The config file is
rewritten with each split too, checked with `haproxy -c`, so a restart (a reboot) serves the same split.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from bayat_deploy.deploy.targets.routing import BaseRouter, RouterError, Server
from bayat_deploy.tools import run

MAX_WEIGHT = 256  # HAProxy's


@dataclass(frozen=True)
class Named:
    """A server as the config and the runtime API name it."""

    name: str
    address: str
    track: str
    version: str
    weight: int


def named(servers: list[Server]) -> list[Named]:
    """Servers named after their address, weights scaled into HAProxy's 1..256 with their ratio kept as
    closely as integers allow."""
    top = max((s.weight for s in servers), default=1)
    scale = min(1.0, MAX_WEIGHT / top)
    return [Named("s_" + s.address.replace(".", "_").replace(":", "_"), s.address, s.track, s.version,
                  max(1, round(s.weight * scale))) for s in servers]


class Router(BaseRouter):
    kind = "haproxy"

    def __init__(self, prefix: Path, **settings):
        super().__init__(prefix, **settings)
        self.conf = prefix / "haproxy.cfg"
        self.socket = prefix / "admin.sock"
        self.map = prefix / "generation.map"

    # ----------------------------------------------------------------- process
    def master_pid(self) -> int | None:
        try:
            pid = int((self.prefix / "haproxy.pid").read_text().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        return self.master_pid() is not None

    def stop(self) -> None:
        pid = self.master_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGUSR1)  # soft stop: finish what is in flight, accept nothing new
        deadline = time.monotonic() + 10
        while self.master_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.master_pid() is not None:
            os.kill(pid, signal.SIGTERM)

    # ----------------------------------------------------------------- the split
    def render(self, servers: list[Server], generation: int) -> str:
        from bayat_deploy.deploy.targets.templates import render

        return render("haproxy.cfg.j2", project=self.project, environment=self.environment,
                      generation=generation, servers=named(servers), prefix=self.prefix, socket=self.socket.name,
                      listen=self.listen, port=self.port)

    def apply(self, servers: list[Server], generation: int) -> None:
        """Make `servers` the live split, as generation `generation`; on a refusal the previous split serves."""
        from bayat_deploy.fsutil import write_atomic

        self.prefix.mkdir(parents=True, exist_ok=True)
        candidate = self.prefix / f"haproxy.cfg.{generation}.new"
        try:
            if not self.map.exists():  # the check opens it; the live map is in the process's memory
                write_atomic(self.map, f"generation {generation}\n")
            candidate.write_text(self.render(servers, generation) + "\n")
            checked = run(["haproxy", "-c", "-f", str(candidate)], timeout=30)
            if checked.returncode != 0:
                raise RouterError(f"haproxy -c rejected the new configuration; traffic is unchanged:\n"
                                  f"{(checked.stderr or checked.stdout).strip()}")
        except BaseException:
            candidate.unlink(missing_ok=True)
            raise
        if not self.running():
            write_atomic(self.map, f"generation {generation}\n")
            os.replace(candidate, self.conf)
            self.failpoint("router-config-replaced")
            # started in its directory: the admin socket's path is relative (a socket path may have 108 bytes)
            started = run(["haproxy", "-D", "-f", str(self.conf)], cwd=self.prefix, timeout=30)
            if started.returncode != 0:
                raise RouterError(f"haproxy did not start; nothing serves yet:\n{started.stderr.strip()}")
        elif not self.socket.exists():
            candidate.unlink(missing_ok=True)
            raise RouterError(f"haproxy (pid {self.master_pid()}) runs, but its admin socket {self.socket} is gone, so "
                              "it cannot be told the new split; traffic is unchanged (restart it: stop the pid)")
        else:
            os.replace(candidate, self.conf)  # what a restart serves; the running process is told below
            self.failpoint("router-config-replaced")
            self._switch(named(servers), generation)
            write_atomic(self.map, f"generation {generation}\n")
        self.wait_for_generation(generation)

    def _switch(self, servers: list[Named], generation: int) -> None:
        live = self.servers()
        wanted = {s.name: s for s in servers}
        commands = [f"add server app/{s.name} {s.address} weight {s.weight}" for s in servers if s.name not in live]
        commands += [f"set weight app/{s.name} {s.weight}" for s in servers if s.name in live]
        commands += [f"set server app/{name} state ready" for name in wanted]
        commands += [f"set server app/{name} state maint" for name, state in live.items()
                     if name not in wanted and not state["maint"]]
        commands.append(f"set map {self.map} generation {generation}")
        for command in commands:
            answer = self.command(command)
            if answer and answer != "New server registered.":
                self._restore(live)
                raise RouterError(f"haproxy refused `{command}`: {answer}; the previous split is restored")

    def _restore(self, live: dict[str, dict]) -> None:
        for name, state in live.items():
            self.command(f"set weight app/{name} {state['weight']}")
            self.command(f"set server app/{name} state {'maint' if state['maint'] else 'ready'}")

    def rewrite(self, servers: list[Server], generation: int) -> None:
        """Put the configuration of the split that serves back on disk (an interrupted change left a newer one
        that a restart would serve)."""
        from bayat_deploy.fsutil import write_atomic

        write_atomic(self.conf, self.render(servers, generation) + "\n")
        write_atomic(self.map, f"generation {generation}\n")
        for leftover in self.prefix.glob("haproxy.cfg.*.new"):
            leftover.unlink(missing_ok=True)

    def wait_for_old_workers(self, timeout: float = 30.0) -> bool:
        """Until every server in maintenance has finished its requests; then they are deleted. False if some
        still serve at the deadline (they stay, in maintenance, for the next change to delete)."""
        if not self.running():
            return True
        deadline = time.monotonic() + timeout
        while True:
            busy = {name: state for name, state in self.servers().items() if state["maint"]}
            done = [name for name, state in busy.items() if state["sessions"] == 0]
            for name in done:
                self.command(f"del server app/{name}")
            if len(done) == len(busy):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)

    # ----------------------------------------------------------------- runtime API
    def command(self, command: str) -> str:
        """One runtime API command on the admin socket; its answer, stripped."""
        try:
            directory = os.open(self.prefix, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise RouterError(f"haproxy's directory {self.prefix} cannot be opened: {exc}") from None
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(10)
                # through the directory's descriptor: the socket's full path may be longer than a socket
                # address can be
                conn.connect(f"/proc/self/fd/{directory}/{self.socket.name}")
                conn.sendall(command.encode() + b"\n")
                chunks = []
                while chunk := conn.recv(65536):
                    chunks.append(chunk)
        except OSError as exc:
            raise RouterError(f"haproxy's admin socket {self.socket} does not answer: {exc}") from None
        finally:
            os.close(directory)
        return b"".join(chunks).decode(errors="replace").strip()

    def servers(self) -> dict[str, dict]:
        """The backend's servers now: name -> weight, maintenance, current sessions."""
        rows = self.command("show stat").lstrip("# ").splitlines()
        found = {}
        for row in csv.DictReader(rows):
            if row.get("pxname") == "app" and row.get("svname") not in ("FRONTEND", "BACKEND"):
                found[row["svname"]] = {"weight": int(row.get("weight") or 0), "maint": "MAINT" in row["status"],
                                        "sessions": int(row.get("scur") or 0)}
        return found
