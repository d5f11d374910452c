"""Deployment strategies (standard: Deployment Strategies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Union

from bayat_deploy.policy.model.fields import f
from bayat_deploy.policy.types import Duration, Percent


@dataclass(frozen=True, kw_only=True)
class Rolling:
    """Replace instances in batches, checking health after each batch; stop at the first unhealthy batch."""

    type: Literal["rolling"] = f("Strategy type.")
    batch_size: int | Percent = f("Instances per batch: a number, or a share such as 25%.", 1, minimum=1)
    health_timeout: Duration = f("How long a batch may take to become healthy.", Duration(60))


@dataclass(frozen=True, kw_only=True)
class BlueGreen:
    """Start green beside blue, verify it, switch all traffic, keep blue warm for instant rollback."""

    type: Literal["blue-green"] = f("Strategy type.")
    health_timeout: Duration = f("How long green may take to become healthy.", Duration(60))
    decommission_after: Duration = f("How long blue stays warm after the switch.", Duration(900))
    auto_promote: bool = f("Switch as soon as green verifies; false pauses for `bayat-deploy promote`.", True)


@dataclass(frozen=True, kw_only=True)
class CanaryStep:
    """One canary step: route this share of traffic to the new version, then wait."""

    weight: int = f("Per cent of traffic on the new version.", minimum=1, maximum=100)
    pause: Duration = f("Wait (and analyse) this long before the next step.", Duration(0))
    manual: bool = f("After the pause, wait for `bayat-deploy promote` (or `abort`) instead of continuing.", False)


@dataclass(frozen=True, kw_only=True)
class Canary:
    """Shift traffic step by step, analysing health and metrics at each step (5 -> 25 -> 50 -> 100)."""

    type: Literal["canary"] = f("Strategy type.")
    steps: tuple[CanaryStep, ...] = f(
        "Traffic steps with ascending weights.",
        (CanaryStep(weight=5, pause=Duration(120)), CanaryStep(weight=25, pause=Duration(300)),
         CanaryStep(weight=50, pause=Duration(300)), CanaryStep(weight=100)), min_items=1)
    analysis: bool = f("Run canary analysis at each step (needs monitoring.provider).", True)
    health_timeout: Duration = f("How long the canary may take to become healthy.", Duration(60))
    decommission_after: Duration = f("How long the previous version stays warm after promotion (instant rollback).",
                                     Duration(900))


@dataclass(frozen=True, kw_only=True)
class FeatureFlags:
    """Deploy with new features dark, then expose them stage by stage (standard: Feature Flags)."""

    type: Literal["feature-flags"] = f("Strategy type.")
    flags: tuple[str, ...] = f("Flags (from feature_flags.flags) this deployment rolls out.", (), min_items=1)
    stages: tuple[str, ...] = f("Exposure stages, cohorts from feature_flags.cohorts, ending with everyone.",
                                ("internal", "beta", "everyone"), min_items=1)
    pause: Duration = f("Wait (and monitor) between stages.", Duration(300))
    health_timeout: Duration = f("How long the new code may take to become healthy.", Duration(60))


Strategy = Union[Rolling, BlueGreen, Canary, FeatureFlags]
