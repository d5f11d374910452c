"""`bayat-deploy promote|abort --env ENV`: finish or undo a paused canary or blue/green deployment."""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes
from bayat_deploy.stages.deploy import add_environment


def configure(parser: argparse.ArgumentParser) -> None:
    add_environment(parser)
    parser.add_argument("--reason", default="", type=argtypes.text, help="why (recorded)")
    parser.set_defaults(handler=run, action=parser.prog.split()[-1])


def run(args: argparse.Namespace) -> int:
    import time

    from bayat_deploy.deploy.engine import Deployment
    from bayat_deploy.deploy.strategies.base import StrategyFailed
    from bayat_deploy.deploy.strategies.blue_green import BlueGreenStrategy
    from bayat_deploy.deploy.strategies.canary import CanaryStrategy
    from bayat_deploy.errors import BayatError
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    deployment = Deployment(session, args.environment)
    started = time.time()
    with deployment.locked(f"{session.context.actor or 'someone'} {args.action}"):
        candidate = deployment.target.current().tracks.get("candidate")
        if candidate is None:
            raise BayatError(f"nothing is paused in {args.environment}: no candidate version is running")
        release = candidate.release
        stage = StageRun(session, args.action, environment=args.environment, version=release.version)
        if args.action == "abort":
            if "stable" in deployment.target.current().tracks:
                deployment.target.shift({"stable": 100})
            deployment.target.retire("candidate")
            entry = deployment.entry("abort", release.version, "aborted", started,
                                     reason=args.reason or "aborted by operator")
            deployment.record.append(entry)
            return stage.finish(True, f"{release.version} aborted; traffic back on the previous version")
        kind = BlueGreenStrategy if deployment.env.strategy.type == "blue-green" else CanaryStrategy
        strategy = kind(deployment.target, deployment.env, release, deployment.hooks(release))
        try:
            _, reason = strategy.switch() if kind is BlueGreenStrategy else strategy.complete()
            outcome = "succeeded"
        except StrategyFailed as exc:
            strategy.restore()
            outcome, reason = "rolled-back", f"promotion failed: {exc}"
        entry = deployment.entry("promote", release.version, outcome, started, image=release.image,
                                 digest=release.digest, config_hash=release.config_hash, reason=reason)
        deployment.record.append(entry)
        return stage.finish(outcome == "succeeded", f"{release.version} {outcome} in {args.environment}: {reason}")
