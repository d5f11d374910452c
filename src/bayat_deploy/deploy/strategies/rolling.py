"""Rolling: replace instances in batches, health-checking each batch; stop at the first bad batch. The first
new instance passes the smoke tests directly, bypassing the router, before any user reaches it."""

from __future__ import annotations

import math

from bayat_deploy.deploy.strategies.base import Strategy
from bayat_deploy.policy.types import Percent


class RollingStrategy(Strategy):
    name = "rolling"

    def batch_size(self) -> int:
        size = getattr(self.config, "batch_size", 1)
        if isinstance(size, Percent):
            return max(1, math.ceil(self.replicas * size.fraction))
        return max(1, size)

    def rollout(self) -> tuple[str, str]:
        batch = self.batch_size()
        stable = self.target.current().tracks.get("stable")
        self.previous = stable.release if stable else None
        old = len(stable.instances) if stable else 0
        new = 0
        verified = False
        while new < self.replicas:
            count = min(batch, self.replicas - new)
            self.step(f"start batch of {count} ({self.release.version})",
                      lambda: self.target.launch(self.release, "candidate", count))
            self.step("health of the new batch", lambda: self.healthy("candidate"))
            if new == 0:  # like green and the canary: one new instance answers the smoke tests before users do
                self.step("smoke tests on the first new instance, before any traffic",
                          lambda: self.hooks.check_direct("candidate"))
            new += count
            leaving = min(count, old)
            remaining_old = old - leaving
            share = round(100 * new / (new + remaining_old))
            self.step(f"route {share}% to the new version",
                      lambda: self.target.shift({"candidate": share, "stable": 100 - share}
                                                if remaining_old else {"candidate": 100}))
            self.switched = True
            if remaining_old == 0 and not verified:
                # the last old instances stop only after users' path through the router is verified
                self.step("routed smoke tests", self.hooks.check_routed)
                verified = True
            if leaving:
                self.step(f"stop {leaving} old instance(s)", lambda: self.target.retire("stable", leaving))
                old = remaining_old
        if not verified:
            self.step("routed smoke tests", self.hooks.check_routed)
        self.step("promote", lambda: self.target.promote("candidate"))
        return "succeeded", f"{self.replicas} instance(s) replaced in batches of {batch}"
