"""Driving an Argo Rollouts `Rollout` from pause to pause, and reading where it stands.

Two ways to reach it: `kubectl` through the command runner (the helm mode and Flux), patching the
Rollout's status subresource exactly as the `kubectl argo rollouts` plugin does (promote clears
`status.pauseConditions`, `--full` sets `status.promoteFull`, abort sets `status.abort`), so the plugin
need not be installed; or Argo CD's resource actions (`resume`, `promote-full`, `abort`) when Argo CD
owns the Rollout, as it does in the GitOps mode with Argo CD.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

from bayat_deploy.deploy.targets.commands import CommandRunner
from bayat_deploy.errors import BayatError

RESUME = {"status": {"pauseConditions": None}}
PROMOTE_FULL = {"status": {"promoteFull": True}}
ABORT = {"status": {"abort": True}}


@dataclass
class RolloutStatus:
    phase: str = ""  # Healthy | Progressing | Paused | Degraded
    message: str = ""
    step: int | None = None
    paused: bool = False
    aborted: bool = False
    stable_hash: str = ""
    current_hash: str = ""
    replicas: int = 0
    updated: int = 0
    available: int = 0
    canary_weight: int | None = None

    @property
    def in_progress(self) -> bool:
        """A new version is being rolled out (or was aborted and still differs from stable)."""
        return bool(self.current_hash) and self.current_hash != self.stable_hash

    @property
    def completed(self) -> bool:
        return self.phase == "Healthy" and not self.in_progress

    @classmethod
    def from_manifest(cls, rollout: dict) -> "RolloutStatus":
        status = rollout.get("status") or {}
        weights = ((status.get("canary") or {}).get("weights") or {}).get("canary") or {}
        return cls(phase=status.get("phase", ""), message=status.get("message", ""),
                   step=status.get("currentStepIndex"), paused=bool(status.get("pauseConditions")),
                   aborted=bool(status.get("abort")), stable_hash=status.get("stableRS", ""),
                   current_hash=status.get("currentPodHash", ""), replicas=int(status.get("replicas") or 0),
                   updated=int(status.get("updatedReplicas") or 0),
                   available=int(status.get("availableReplicas") or 0),
                   canary_weight=weights.get("weight"))

    def describe(self) -> str:
        step = f", step {self.step}" if self.step is not None else ""
        message = f": {self.message}" if self.message else ""
        return f"{self.phase or 'no status yet'}{step}{' (aborted)' if self.aborted else ''}{message}"


class RolloutControl(ABC):
    name: str

    @abstractmethod
    def status(self) -> RolloutStatus | None:
        """None when the Rollout does not exist (yet)."""

    @abstractmethod
    def resume(self) -> None: ...

    @abstractmethod
    def promote_full(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...


class KubectlRollout(RolloutControl):
    def __init__(self, runner: CommandRunner, name: str, namespace: str, context: str | None):
        self.runner, self.name, self.namespace, self.context = runner, name, namespace, context

    def _kubectl(self, *args: str, options: tuple[str, ...] = ()) -> list[str]:
        context = ["--context", self.context] if self.context else []
        return ["kubectl", *args, "--namespace", self.namespace, *options, *context]

    def status(self) -> RolloutStatus | None:
        result = self.runner.run(self._kubectl("get", "rollout", self.name, options=("--output", "json")))
        if not result.ok:
            if "NotFound" in result.stderr or "not found" in result.stderr:
                return None
            raise BayatError(f"cannot read Rollout {self.name}: {result.message()}")
        return RolloutStatus.from_manifest(json.loads(result.stdout))

    def _patch(self, patch: dict, what: str) -> None:
        self.runner.check(self._kubectl("patch", "rollout", self.name, options=(
            "--subresource", "status", "--type", "merge", "--patch", json.dumps(patch, separators=(",", ":")))),
                          what=f"{what} Rollout {self.name}")

    def resume(self) -> None:
        self._patch(RESUME, "resume")

    def promote_full(self) -> None:
        self._patch(PROMOTE_FULL, "fully promote")

    def abort(self) -> None:
        self._patch(ABORT, "abort")


def wait_for(control: RolloutControl, reached: Callable[[RolloutStatus], bool], *, timeout: float, poll: float,
             what: str, allow_abort: bool = False) -> RolloutStatus:
    """Poll until `reached`; a Degraded or aborted Rollout (unless expected) or the deadline is an error."""
    deadline = time.monotonic() + timeout
    status = None
    while True:
        status = control.status()
        if status is not None:
            if reached(status):
                return status
            if not allow_abort and (status.aborted or status.phase == "Degraded"):
                raise BayatError(f"{what}: Rollout {control.name} is {status.describe()}")
        if time.monotonic() >= deadline:
            seen = status.describe() if status else "not found"
            raise BayatError(f"{what}: Rollout {control.name} did not get there within {timeout:g}s (last seen: "
                             f"{seen})")
        time.sleep(poll)


def paused_at(step: int) -> Callable[[RolloutStatus], bool]:
    return lambda s: s.paused and s.step is not None and s.step >= step


def fully_promoted(status: RolloutStatus) -> bool:
    return status.completed


def back_on_stable(status: RolloutStatus) -> bool:
    return status.completed or (status.aborted and not status.canary_weight)
