"""Blue/green: start green beside blue, test it, switch all traffic, keep blue warm for an instant rollback."""

from __future__ import annotations

from bayat_deploy.deploy.strategies.base import Strategy


class BlueGreenStrategy(Strategy):
    name = "blue-green"

    def rollout(self) -> tuple[str, str]:
        self.step(f"start green ({self.replicas} x {self.release.version})",
                  lambda: self.target.launch(self.release, "candidate", self.replicas))
        self.step("health of green", lambda: self.healthy("candidate"))
        self.step("smoke tests on green, before any traffic", lambda: self.hooks.check_direct("candidate"))
        if not getattr(self.config, "auto_promote", True) and self.has_stable():
            return "paused", "green is up and verified; `bayat-deploy promote` switches traffic, `abort` stops it"
        return self.switch()

    def switch(self) -> tuple[str, str]:
        self.step("switch all traffic to green", lambda: self.target.shift({"candidate": 100}))
        self.switched = True
        self.step("smoke tests through the router", self.hooks.check_routed)
        self.step("analysis after the switch", lambda: self.hooks.analyze("after switch"))
        keep = getattr(self.config, "decommission_after", None)
        seconds = keep.seconds if keep else 0.0
        self.step("promote green; keep blue warm", lambda: self.target.promote("candidate", keep_warm_for=seconds))
        return "succeeded", (f"switched; the previous version stays warm for {keep}" if keep else "switched")
