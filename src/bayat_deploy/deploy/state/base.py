"""Where an environment's deployment state lives: one small interface, several stores.

The record (`records.jsonl`), the deploy lock and what a target remembers about its tracks are kept in
a `Store`. Stages and targets only read, update, append and lock; which machine or API holds the bytes
is the store's business, so a deploy job, the rollback job on another runner and `history` on a
laptop all see the same state when the store is one they can all reach (the cluster, the Docker host).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Callable

from bayat_deploy.errors import BayatError


class DeploymentLocked(BayatError):
    """Raised when another deployment to the same environment holds the lock past our timeout."""


class StoreError(BayatError):
    """The store could not be read or written (unreachable, refused, damaged)."""


class Store(ABC):
    """Named text documents of one environment, plus that environment's deployment lock."""

    #: how the store is named in messages ("/var/lib/...", "ConfigMap ns/name")
    where: str = ""

    @abstractmethod
    def read(self, key: str) -> str | None:
        """The document's text, or None when it was never written."""

    @abstractmethod
    def update(self, key: str, change: Callable[[str | None], str]) -> str:
        """Replace a document with `change(current)`, atomically: a concurrent writer's change is never lost
        (the store retries `change` on the newer text). Returns what was written."""

    def append(self, key: str, text: str) -> None:
        """Add text at the end of a document (the record is append-only)."""
        self.update(key, lambda current: (current or "") + text)

    def write(self, key: str, text: str) -> None:
        self.update(key, lambda _current: text)

    @abstractmethod
    def lock(self, holder: str, timeout: float = 600.0) -> AbstractContextManager[None]:
        """Hold the environment's deployment lock, waiting up to `timeout` seconds for it.
        `holder` says who and why; a waiting deployment prints it."""

    def describe(self, key: str) -> str:
        """Where one document is, for messages."""
        return f"{self.where} ({key})"
