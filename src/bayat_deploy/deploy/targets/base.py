"""The target interface: a handful of verbs every strategy is written against.

Tracks: `stable` serves today's version; `candidate` is the version being rolled out (green, canary,
or the next batch of a rolling update); `warm` is the previous stable kept running after a switch so
that a rollback is only a traffic shift. Weights are per-cent of traffic per track.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

TRACKS = ("stable", "candidate", "warm")


def state_dir(session, environment: str) -> Path:
    """The environment's state directory: `~` and placeholders expanded, relative paths from the repo."""
    target = session.policy.environment(environment).target
    text = session.policy.substitute(target.state_dir, environment)
    if text.startswith("~"):
        text = session.context.get("HOME", str(Path.home())) + text[1:]
    path = Path(text)
    return path if path.is_absolute() else session.root / path


@dataclass(frozen=True)
class Release:
    """What to deploy: a version of the service and the exact image and configuration behind it."""

    version: str
    image: str  # registry reference (name:tag)
    digest: str = ""  # sha256:..., when known
    config_hash: str = ""
    env: dict[str, str] = field(default_factory=dict)  # extra environment for the instances

    @property
    def pinned(self) -> str:
        """The immutable reference: name@digest when the digest is known."""
        if self.digest:
            return f"{self.image.rsplit(':', 1)[0]}@{self.digest}"
        return self.image


@dataclass
class Instance:
    id: str
    address: str  # host:port reachable from the router
    version: str


@dataclass
class Track:
    name: str
    release: Release
    instances: list[Instance] = field(default_factory=list)
    weight: int = 0
    retire_after: str = ""  # ISO time after which a warm track may be decommissioned


@dataclass
class State:
    environment: str
    tracks: dict[str, Track] = field(default_factory=dict)

    def serving(self) -> str | None:
        """The version receiving most traffic."""
        live = [t for t in self.tracks.values() if t.weight > 0]
        return max(live, key=lambda t: t.weight).release.version if live else None


@dataclass
class Health:
    ok: bool
    detail: str


class Target(ABC):
    """Verbs, in the order a deployment uses them."""

    kind = "abstract"

    def __init__(self, session, environment: str):
        self.session, self.environment = session, environment
        self.env = session.policy.environment(environment)
        self.spec = self.env.target
        self.state_dir = state_dir(session, environment)  # scratch files; durable state goes to the store
        self._store = None

    @property
    def store(self):
        """Where the record, the lock and the target's memory of its tracks live (deploy/state)."""
        if self._store is None:
            from bayat_deploy.deploy.state import open_store

            # the target's command runner: a dry run records the state calls too, nothing reaches the cluster
            self._store = open_store(self.session, self.environment, runner=getattr(self, "runner", None))
        return self._store

    @store.setter
    def store(self, store) -> None:
        self._store = store

    @abstractmethod
    def prepare(self) -> None:
        """Make sure the environment exists (router running, namespace, state directory)."""

    @abstractmethod
    def current(self) -> State:
        """What runs now and who gets which share of traffic."""

    @abstractmethod
    def launch(self, release: Release, track: str, count: int) -> Track:
        """Start `count` more instances of `release` on `track`, without traffic yet."""

    @abstractmethod
    def health(self, track: str, timeout: float) -> Health:
        """Wait until every instance of the track is healthy, or say why not."""

    @abstractmethod
    def shift(self, weights: dict[str, int]) -> None:
        """Route traffic: per-cent per track, summing to 100. Atomic: all or nothing."""

    @abstractmethod
    def promote(self, track: str, *, keep_warm_for: float = 0.0) -> None:
        """Make `track` the stable one; the old stable becomes warm (kept for a rollback) or is retired."""

    @abstractmethod
    def retire(self, track: str, count: int | None = None) -> None:
        """Stop a track's instances (all, or `count` of them), after traffic has left them."""

    @abstractmethod
    def direct_url(self, track: str) -> str:
        """A URL reaching one instance of the track, bypassing the router (to test green before the switch)."""

    @abstractmethod
    def url(self) -> str:
        """The environment's URL through the router."""

    def reconcile(self) -> list[str]:
        """Repair what the target remembers from what really serves, after a command that died half-way;
        each repair in words. Targets whose state is what serves (the cluster's objects) have nothing to do."""
        return []

    def decommission_due(self, now: datetime | None = None) -> bool:
        """Retire the warm track once its keep-warm time has passed; True when something was retired."""
        warm = self.current().tracks.get("warm")
        if warm and warm.retire_after and datetime.fromisoformat(warm.retire_after) <= (
                now or datetime.now(timezone.utc)):
            self.retire("warm")
            return True
        return False

    def remove(self) -> None:
        """Take the environment's deployment down entirely (rolling back a first release)."""
        from bayat_deploy.errors import BayatError

        raise BayatError(f"the {self.kind} target cannot remove a deployment; do it with the platform's own tools")

    def logs(self, track: str, lines: int = 200) -> str:
        """Recent log lines of the track's instances, where the target can read them."""
        return ""
