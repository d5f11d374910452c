"""`bayat-deploy rollback --env ENV [--to VERSION] [--drill]`: back to the last good release, timed."""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes
from bayat_deploy.stages.deploy import add_environment


def configure(parser: argparse.ArgumentParser) -> None:
    add_environment(parser)
    parser.add_argument("--to", metavar="VERSION", type=argtypes.version, help="version to return to (default: the last successful one)")
    parser.add_argument("--reason", default="manual rollback", type=argtypes.text, help="why; goes into the record and incident note")
    parser.add_argument("--failed-version", metavar="VERSION", type=argtypes.version,
                        help="the version a pipeline tried to deploy: roll back only if it reached the environment "
                             "(a rollback job after a failed gate must not undo the release that serves)")
    parser.add_argument("--remove", action="store_true",
                        help="take the deployment down entirely (the rollback plan of a first release)")
    parser.add_argument("--drill", action="store_true",
                        help="rehearse in a non-production environment: roll back, verify, roll forward, time it")
    parser.add_argument("--notify", action="store_true",
                        help="announce the rollback to the environment's routes afterwards, whatever its outcome "
                             "(critical; a drill is not announced)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.notify or args.drill:
        return roll_back(args)
    from bayat_deploy.cli import invoke

    code = 1
    try:
        code = roll_back(args)
    finally:
        invoke(["notify", "--env", args.environment, "--event", "rollback", "--level", "critical"], like=args)
    return code


def roll_back(args: argparse.Namespace) -> int:
    from bayat_deploy.deploy.engine import Deployment
    from bayat_deploy.deploy.rollback import require_version, rollback
    from bayat_deploy.errors import BadInput
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    deployment = Deployment(session, args.environment)
    to = require_version(args.to)
    if args.remove:
        return _remove(session, deployment, args.reason)
    if args.drill:
        if deployment.env.tier == "production":
            raise BadInput("rollback drills run in non-production environments; pick e.g. staging")
        return _drill(session, deployment, to)
    stage = StageRun(session, "rollback", environment=args.environment, inputs={"to": to, "reason": args.reason})
    result = rollback(deployment, to=to, reason=args.reason, failed_version=require_version(args.failed_version))
    stage.version = result.entry.version
    stage.summary.update(seconds_to_traffic=round(result.seconds_to_traffic, 3), to=result.entry.version,
                         previous=result.entry.previous_version)
    if result.incident:
        stage.artifact(type="incident-note", name="incident", path=str(result.incident))
    stage.output("version", result.entry.version)
    return stage.finish(True, f"{args.environment} back on {result.entry.version} "
                              f"({result.seconds_to_traffic:.2f}s to full traffic)")


def _remove(session, deployment, reason: str) -> int:
    import time

    from bayat_deploy.stages.run import StageRun

    started = time.time()
    with deployment.locked(f"{session.context.actor or 'someone'} removing the deployment"):
        serving = deployment.target.current().serving() or ""
        deployment.target.remove()
        deployment.record.append(deployment.entry("rollback", "", "succeeded", started, previous_version=serving,
                                                  reason=f"{reason}; deployment removed"))
    stage = StageRun(session, "rollback", environment=deployment.environment, inputs={"remove": True})
    return stage.finish(True, f"{deployment.environment}: {serving or 'nothing'} removed; nothing serves now")


def _drill(session, deployment, to: str | None) -> int:
    from bayat_deploy.deploy.rollback import rollback
    from bayat_deploy.errors import BayatError
    from bayat_deploy.stages.run import StageRun

    current = deployment.target.current().serving()
    if current is None:
        raise BayatError(f"nothing serves in {deployment.environment}: deploy before drilling a rollback")
    stage = StageRun(session, "rollback-drill", environment=deployment.environment, version=current)
    back = rollback(deployment, to=to, reason=f"rollback drill from {current}")
    forward = rollback(deployment, to=current, reason="rollback drill: roll forward")
    objective = deployment.env.rollback.max_duration.seconds
    stage.summary.update(rollback_seconds=round(back.seconds_to_traffic, 3),
                         roll_forward_seconds=round(forward.seconds_to_traffic, 3), objective_seconds=objective)
    passed = back.seconds_to_traffic <= objective
    return stage.finish(passed, f"rolled back {current} -> {back.entry.version} in {back.seconds_to_traffic:.2f}s "
                                f"and forward in {forward.seconds_to_traffic:.2f}s "
                                f"(objective {deployment.env.rollback.max_duration})")
