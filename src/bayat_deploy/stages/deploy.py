"""`bayat-deploy deploy --env ENV --version V`: roll a published version out with the environment's strategy;
with the sequence flags (`--record-approvals --gate --notify ...`, stages/deploy_sequence.py), the whole deploy
job."""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes


def add_environment(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", "--environment", dest="environment", required=True, metavar="ENV", type=argtypes.environment,
                        help="environment to act on (as named in the policy)")


def parse_pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    from bayat_deploy.errors import BadInput

    pairs = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInput(f"{flag} takes KEY=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def configure(parser: argparse.ArgumentParser) -> None:
    add_environment(parser)
    parser.add_argument("--version", required=True, type=argtypes.version, help="SemVer version to deploy (must have been published)")
    parser.add_argument("--image", type=argtypes.image, help="deploy this image reference instead of the published one (development)")
    parser.add_argument("--set-env", action="append", metavar="KEY=VALUE", type=argtypes.key_value,
                        help="extra environment variable for the new instances (recorded with the release)")
    parser.add_argument("--lock-timeout", type=argtypes.seconds, default=600.0, metavar="SECONDS",
                        help="how long to wait for another deployment to the same environment (default 600)")
    parser.add_argument("--allow-downgrade", action="store_true",
                        help="deploy a version older than the one serving (refused otherwise: a deployment that "
                             "waited for the lock must not replace a newer release; `rollback` needs no flag)")
    from bayat_deploy.stages import deploy_sequence

    deploy_sequence.configure(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bayat_deploy.stages import deploy_sequence

    if deploy_sequence.requested(args):
        return deploy_sequence.run(args, roll_out)
    return roll_out(args)


def roll_out(args: argparse.Namespace) -> int:
    from bayat_deploy.deploy.engine import Deployment
    from bayat_deploy.deploy.release import resolve_release
    from bayat_deploy.deploy.rollback import require_version
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    import time

    from bayat_deploy.errors import BayatError

    session = open_session(args)
    version = require_version(args.version)
    deployment = Deployment(session, args.environment)
    started = time.time()
    try:
        release = resolve_release(session, args.environment, version, image=args.image,
                                  env=parse_pairs(args.set_env, "--set-env"))
    except BayatError as exc:  # the registry is down, the version was never published: an attempt all the same
        deployment.record_refusal(version, exc, started)
        raise
    stage = StageRun(session, "deploy", environment=args.environment, version=version,
                     inputs={"image": release.image, "strategy": deployment.env.strategy.type})
    entry, outcome = deployment.deploy(release, lock_timeout=args.lock_timeout, allow_downgrade=args.allow_downgrade)
    stage.details.update(record=entry.__dict__, steps=[s.__dict__ for s in outcome.steps])
    stage.summary.update(outcome=entry.outcome, previous_version=entry.previous_version,
                         duration_seconds=entry.duration_seconds)
    stage.artifact(type="docker-image", name=session.policy.project, reference=release.image, digest=release.digest)
    stage.output("version", version)
    stage.output("url", str(deployment.env.url or deployment.target.url()))
    stage.output("outcome", entry.outcome)
    rows = "\n".join(f"| {s.name} | {'ok' if s.ok else 'FAILED'} | {s.detail} | {s.seconds:.2f}s |"
                     for s in outcome.steps)
    markdown = f"| step | result | detail | time |\n|---|---|---|---|\n{rows}"
    passed = entry.outcome in ("succeeded", "paused")
    headline = (f"{version} {entry.outcome} in {args.environment} ({entry.strategy}); " +
                (entry.reason if not passed or entry.outcome == "paused" else
                 f"previous: {entry.previous_version or 'none'}"))
    return stage.finish(passed, headline, markdown)
