"""What the Docker host's routers share: the servers of a traffic split, and the error a router raises.

A router (haproxy.py, nginx.py) has one job: make the live traffic split the one given, all or nothing,
and tell which generation of split serves. `router_for` picks the one the policy names.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from bayat_deploy.errors import BayatError


class RouterError(BayatError):
    """Raised when nginx rejects a configuration or does not (re)start; the old configuration stays live."""


@dataclass(frozen=True)
class Server:
    address: str
    track: str
    version: str
    weight: int


def upstream_weights(tracks: dict[str, tuple[int, list[tuple[str, str]]]]) -> list[Server]:
    """Spread each track's per-cent over its instances as integer nginx weights.

    `tracks` maps track -> (per-cent, [(address, version), ...]). With 95% on 3 stable instances and
    5% on 1 canary, every stable server gets 95 and the canary 15... scaled so the ratio is exact.
    """
    live = {name: (pct, inst) for name, (pct, inst) in tracks.items() if pct > 0 and inst}
    if not live:
        raise RouterError("no instance would receive traffic")
    scale = math.lcm(*(len(inst) for _, inst in live.values()))
    servers = []
    for name, (pct, instances) in live.items():
        each = pct * scale // len(instances)
        servers += [Server(address, name, version, each) for address, version in instances]
    common = math.gcd(*(s.weight for s in servers))
    return [Server(s.address, s.track, s.version, s.weight // common) for s in servers]


class BaseRouter:
    """Where a router listens, and the marker (`/.well-known/bayat-router`) that says which generation of the
    traffic split it serves."""

    kind = "abstract"

    def __init__(self, prefix: Path, *, project: str, environment: str, listen: str, port: int,
                 failpoint=lambda name: None):
        self.prefix, self.project, self.environment = prefix, project, environment
        self.listen, self.port = listen, port
        self.failpoint = failpoint  # tests kill the process at named points (deploy/failpoints.py)

    @property
    def url(self) -> str:
        return f"http://{self.listen}:{self.port}"

    def live_generation(self) -> int | None:
        """The generation the router answers with now; None when it does not answer."""
        import requests

        try:
            answer = requests.get(f"{self.url}/.well-known/bayat-router", timeout=2).text.strip()
        except requests.RequestException:
            return None
        kind, _, number = answer.partition(" ")
        return int(number) if kind == "generation" and number.isdigit() else None

    def wait_for_generation(self, generation: int, timeout: float = 15.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                last = requests.get(f"{self.url}/.well-known/bayat-router", timeout=1).text.strip()
                if last == f"generation {generation}":
                    return
            except requests.RequestException as exc:
                last = str(exc)
            time.sleep(0.02)
        raise RouterError(f"{self.kind} on {self.url} did not take generation {generation} within {timeout:g}s "
                          f"(last answer: {last})")


def router_for(kind: str, state_dir: Path, **settings):
    """The environment's router: its files (config, pid, socket, logs) under `<state_dir>/<kind>`."""
    if kind == "nginx":
        from bayat_deploy.deploy.targets.nginx import Router
    else:
        from bayat_deploy.deploy.targets.haproxy import Router
    return Router(state_dir / kind, **settings)
