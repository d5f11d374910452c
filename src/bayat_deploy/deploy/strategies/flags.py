"""Feature flags: deploy the code dark (rolling), then expose it stage by stage: internal -> beta -> everyone.

A failing stage turns the flags back to where they were (the kill switch); the code stays deployed.
"""

from __future__ import annotations

from bayat_deploy.deploy.strategies.base import StrategyFailed
from bayat_deploy.deploy.strategies.rolling import RollingStrategy


class FeatureFlagStrategy(RollingStrategy):
    name = "feature-flags"
    store = None  # set by the engine: a FlagStore for the environment
    settings = None  # the policy's FeatureFlagSettings

    def rollout(self) -> tuple[str, str]:
        status, _ = super().rollout()  # the code, with its new features dark
        previous: dict[str, dict] = {}
        try:
            for stage in self.config.stages:
                from bayat_deploy.deploy.flags import exposure

                for flag in self.config.flags:
                    before = self.step(f"{flag}: expose to {stage}",
                                       lambda: _Done(self.store.set(flag, exposure(self.settings, [stage]))))
                    previous.setdefault(flag, before.value)
                self.watch(f"exposure {stage}", self.config.pause.seconds)
        except StrategyFailed:
            for flag, state in previous.items():
                self.store.set(flag, state)
            self.hooks.say(f"  flags {', '.join(previous)} turned back (kill switch); the code stays deployed")
            raise
        return status, f"code deployed; {', '.join(self.config.flags)} exposed: {' -> '.join(self.config.stages)}"

    def restore(self) -> None:
        # A failed exposure keeps the new code serving (the flags are already off again); a failed code
        # rollout restores the previous version like any rolling update.
        if "candidate" in self.target.current().tracks:
            super().restore()


class _Done:
    ok = True
    detail = ""

    def __init__(self, value):
        self.value = value
