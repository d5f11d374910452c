"""Canary: a small share of traffic first, more at each step if the analysis passes, then everyone."""

from __future__ import annotations

from bayat_deploy.deploy.strategies.base import Strategy
from bayat_deploy.deploy.strategies.blue_green import BlueGreenStrategy


class CanaryStrategy(Strategy):
    name = "canary"

    def rollout(self) -> tuple[str, str]:
        if not self.has_stable():
            self.hooks.say("  no version serves yet: a canary needs a baseline, deploying blue/green instead")
            first = BlueGreenStrategy(self.target, self.env, self.release, self.hooks)
            first.steps = self.steps
            try:
                return first.rollout()
            finally:
                self.switched = first.switched
        steps = [s for s in self.config.steps if s.weight < 100]
        first = steps[0].weight if steps else 100
        self.step(f"start canary ({self.instances_for(first)} x {self.release.version})",
                  lambda: self.target.launch(self.release, "candidate", self.instances_for(first)))
        self.step("health of the canary", lambda: self.healthy("candidate"))
        self.step("smoke tests on the canary, before any traffic", lambda: self.hooks.check_direct("candidate"))
        for number, step in enumerate(steps, 1):
            return_value = self.advance(number, step)
            if return_value:
                return return_value
        return self.complete()

    def advance(self, number: int, step) -> tuple[str, str] | None:
        wanted = self.instances_for(step.weight)
        have = len(self.target.current().tracks["candidate"].instances)
        if wanted > have:
            self.step(f"scale canary to {wanted}", lambda: self.target.launch(self.release, "candidate",
                                                                             wanted - have))
            self.step("health of the canary", lambda: self.healthy("candidate"))
        self.step(f"step {number}: {step.weight}% of traffic",
                  lambda: self.target.shift({"stable": 100 - step.weight, "candidate": step.weight}))
        self.switched = True
        self.watch(f"step {number}", step.pause.seconds)
        if getattr(step, "manual", False):
            return "paused", f"paused at {step.weight}%: `bayat-deploy promote` continues, `abort` rolls back"
        return None

    def complete(self) -> tuple[str, str]:
        missing = self.replicas - len(self.target.current().tracks["candidate"].instances)
        if missing > 0:
            self.step(f"scale the new version to {self.replicas}",
                      lambda: self.target.launch(self.release, "candidate", missing))
            self.step("health of the new version", lambda: self.healthy("candidate"))
        self.step("100% of traffic", lambda: self.target.shift({"candidate": 100}))
        self.step("smoke tests through the router", self.hooks.check_routed)
        keep = self.config.decommission_after.seconds
        self.step("promote; keep the previous version warm",
                  lambda: self.target.promote("candidate", keep_warm_for=keep))
        return "succeeded", f"canary passed {len(self.config.steps)} step(s)"

