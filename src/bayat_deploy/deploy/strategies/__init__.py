"""Strategies, written once against the target verbs."""

from __future__ import annotations

from bayat_deploy.deploy.strategies.base import Hooks, Outcome, Strategy, Verdict


def strategy_for(kind: str):
    from bayat_deploy.deploy.strategies.blue_green import BlueGreenStrategy
    from bayat_deploy.deploy.strategies.canary import CanaryStrategy
    from bayat_deploy.deploy.strategies.flags import FeatureFlagStrategy
    from bayat_deploy.deploy.strategies.rolling import RollingStrategy

    return {"rolling": RollingStrategy, "blue-green": BlueGreenStrategy, "canary": CanaryStrategy,
            "feature-flags": FeatureFlagStrategy}[kind]


__all__ = ["Hooks", "Outcome", "Strategy", "Verdict", "strategy_for"]
