"""What every strategy shares: the hooks it calls, the outcome it reports, and the safe way back."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

from bayat_deploy.deploy.targets.base import Release, Target
from bayat_deploy.policy.model import Environment


@dataclass
class Verdict:
    outcome: str  # pass | fail | inconclusive
    reason: str = ""

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class Outcome:
    status: str  # succeeded | failed | paused
    reason: str
    steps: list[Step] = field(default_factory=list)
    traffic_switched: bool = False  # did any real traffic reach the new version?


@dataclass
class Hooks:
    """What a strategy asks the outside world, so the strategy code stays free of HTTP and metrics.

    `check_direct(track)`: smoke tests against one instance of a track, bypassing the router.
    `check_routed()`: smoke tests through the router (what users see).
    `analyze(step)`: canary analysis for a step (health + smoke tests here; metrics when configured).
    `say(text)`: progress for the log. `sleep(seconds)`: waiting (replaced in fast tests with a shorter wait).
    """

    check_direct: Callable[[str], Verdict]
    check_routed: Callable[[], Verdict]
    analyze: Callable[[str], Verdict]
    say: Callable[[str], None] = print
    sleep: Callable[[float], None] = time.sleep


class StrategyFailed(Exception):
    """Raised inside a strategy to abandon the rollout; `Strategy.run` turns it into a failed outcome."""


class Strategy:
    name = "abstract"

    def __init__(self, target: Target, environment: Environment, release: Release, hooks: Hooks):
        self.target, self.env, self.release, self.hooks = target, environment, release, hooks
        self.config = environment.strategy
        self.steps: list[Step] = []
        self.switched = False
        self.previous = None  # the release to bring back if a rollout replaced every old instance (rolling)

    @property
    def replicas(self) -> int:
        return self.env.resources.replicas

    def step(self, name: str, action: Callable[[], object]) -> object:
        """Run one named step; a falsy Verdict or a StrategyFailed stops the rollout."""
        started = time.monotonic()
        self.hooks.say(f"  {name} ...")
        try:
            result = action()
        except StrategyFailed as exc:
            self.steps.append(Step(name, False, str(exc), round(time.monotonic() - started, 3)))
            raise
        detail = getattr(result, "reason", "") or getattr(result, "detail", "") or ""
        ok = getattr(result, "passed", getattr(result, "ok", True))
        self.steps.append(Step(name, bool(ok), detail, round(time.monotonic() - started, 3)))
        if not ok:
            raise StrategyFailed(f"{name}: {detail}")
        return result

    def healthy(self, track: str) -> object:
        return self.target.health(track, self.config.health_timeout.seconds)

    def run(self) -> Outcome:
        from bayat_deploy.errors import BayatError, describe_os_error

        def said(exc: Exception) -> str:  # a full disk or a read-only directory, in words
            return describe_os_error(exc, "cannot write") if isinstance(exc, OSError) else str(exc)

        try:
            status, reason = self.rollout()
        except (StrategyFailed, BayatError, OSError) as exc:
            self.hooks.say(f"  rollout stopped: {said(exc)}; restoring the previous version")
            try:
                self.restore()
            except OSError as problem:  # the traffic change never reached nginx, and unrouted instances stopped
                return Outcome("failed", f"{said(exc)}; the previous version keeps the traffic nginx gives it, but "
                                         f"restoring could not record its changes ({said(problem)}): the next command "
                                         "reconciles the state", self.steps, self.switched)
            except BayatError as problem:  # report both; the record says what is left running
                return Outcome("failed", f"{said(exc)}; restoring failed too: {said(problem)}", self.steps,
                               self.switched)
            return Outcome("failed", said(exc), self.steps, self.switched)
        return Outcome(status, reason, self.steps, self.switched)

    def rollout(self) -> tuple[str, str]:  # pragma: no cover - each strategy defines it
        raise NotImplementedError

    def restore(self) -> None:
        """Put all traffic back on the stable track (relaunching stable instances a rolling update
        removed) and stop the candidate. With no stable track (first deployment) just stop it."""
        from bayat_deploy.deploy.targets.routing import RouterError

        state = self.target.current()
        stable = state.tracks.get("stable")
        if stable is None and self.previous is not None:  # every old instance was replaced already
            self.target.launch(self.previous, "stable", self.replicas)
            self.target.health("stable", self.config.health_timeout.seconds)
            stable = self.target.current().tracks.get("stable")
        if stable is not None:
            missing = self.replicas - len(stable.instances)
            if missing > 0:
                self.target.launch(stable.release, "stable", missing)
                self.target.health("stable", self.config.health_timeout.seconds)
            try:
                self.target.shift({"stable": 100})
            except RouterError:
                pass  # the router refused the change: the configuration that is live is the last good one
            except OSError:
                # the state cannot be written (a full disk): the candidate still stops where no traffic reaches it
                candidate = self.target.current().tracks.get("candidate")
                if candidate is not None and candidate.weight == 0:
                    self.target.retire("candidate")  # stops the unrouted instances, then fails to record it
                raise
        if "candidate" in self.target.current().tracks:
            self.target.retire("candidate")

    def watch(self, label: str, seconds: float) -> None:
        """Analyse at least once per step, and at every analysis interval during its pause."""
        interval = max(1.0, self.env.analysis.interval.seconds)
        deadline = time.monotonic() + seconds
        inconclusive = 0
        while True:
            verdict = self.hooks.analyze(label)
            if verdict.outcome == "fail":
                self.steps.append(Step(f"{label}: analysis", False, verdict.reason, 0.0))
                raise StrategyFailed(f"{label}: analysis failed: {verdict.reason}")
            if verdict.outcome == "inconclusive":
                inconclusive += 1
                if inconclusive > self.env.analysis.max_inconclusive:
                    self.steps.append(Step(f"{label}: analysis", False, verdict.reason, 0.0))
                    raise StrategyFailed(f"{label}: analysis inconclusive {inconclusive} times: {verdict.reason}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.steps.append(Step(f"{label}: analysis", True, verdict.reason or "passed", 0.0))
                return
            self.hooks.sleep(min(interval, remaining))

    def has_stable(self) -> bool:
        return "stable" in self.target.current().tracks

    def instances_for(self, weight: int) -> int:
        return max(1, math.ceil(self.replicas * weight / 100))
