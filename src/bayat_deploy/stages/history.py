"""`bayat-deploy history --env ENV`: every deployment attempt, including the failed, rolled-back and interrupted ones.

`--source record` (the default) reads the environment's deployment record in its state store;
`--source platform` reads the CI platform's deployment history (GitHub Deployments written by this tool,
GitLab's own deployments), which needs no access to the target at all."""

from __future__ import annotations

import argparse
import json

from bayat_deploy import argtypes
from bayat_deploy.stages.deploy import add_environment


def configure(parser: argparse.ArgumentParser) -> None:
    add_environment(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    parser.add_argument("--limit", type=argtypes.count, default=0, help="only the newest N entries (default: all)")
    parser.add_argument("--source", choices=("record", "platform"), default="record",
                        help="record: the deployment record in the state store (default); platform: GitHub "
                             "Deployments or GitLab deployments")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bayat_deploy.session import open_session

    session = open_session(args)
    if args.source == "platform":
        entries, where = _platform_entries(session, args.environment, args.limit)
    else:
        from bayat_deploy.deploy.engine import Deployment

        deployment = Deployment(session, args.environment)
        _reconcile(deployment)
        entries, where = deployment.record.attempts(), deployment.record.path
    if args.limit:
        entries = entries[-args.limit:]
    if args.format == "json":
        print(json.dumps([e.__dict__ for e in entries], indent=2))
        return 0
    if not entries:
        print(f"no deployments recorded for {args.environment} ({where})")
        return 0
    columns = ("finished", "action", "version", "outcome", "strategy", "previous_version", "triggered_by", "reason")
    rows = [[str(getattr(e, c) or "") for c in columns] for e in entries]
    widths = [min(60, max(len(c), *(len(r[i]) for r in rows))) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in rows:
        print("  ".join(v[:w].ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0


def _reconcile(deployment) -> None:
    """History is true only once interrupted attempts are found: reconcile when no deployment holds the lock
    (one that does shows as in-progress); a target out of reach leaves the record as it is, and says so."""
    import sys

    from bayat_deploy.deploy.state import DeploymentLocked
    from bayat_deploy.errors import BayatError

    import contextlib

    try:  # what was repaired goes to stderr: stdout is the history (JSON, for --format json)
        with contextlib.redirect_stdout(sys.stderr), deployment.locked("bayat-deploy history (reconciling)", timeout=0):
            pass
    except DeploymentLocked:
        pass
    except BayatError as exc:
        print(f"note: {deployment.environment} not reconciled ({exc}); an in-progress entry may be an "
              "interrupted attempt", file=sys.stderr)


def _platform_entries(session, environment: str, limit: int):
    from bayat_deploy.deploy.record import Entry
    from bayat_deploy.platform.deployments import trail_for

    session.policy.environment(environment)  # an unknown environment is the policy's error, not an empty list
    trail = trail_for(session.context)
    return [Entry(**entry) for entry in trail.read(environment, limit or None)], trail.where
