"""`bayat-deploy history --env ENV`: every deployment attempt, including the failed and rolled-back ones."""

from __future__ import annotations

import argparse
import json

from bayat_deploy import argtypes
from bayat_deploy.stages.deploy import add_environment


def configure(parser: argparse.ArgumentParser) -> None:
    add_environment(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format")
    parser.add_argument("--limit", type=argtypes.count, default=0, help="only the newest N entries (default: all)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bayat_deploy.deploy.engine import Deployment
    from bayat_deploy.session import open_session

    deployment = Deployment(open_session(args), args.environment)
    entries = deployment.record.entries()
    if args.limit:
        entries = entries[-args.limit:]
    if args.format == "json":
        print(json.dumps([e.__dict__ for e in entries], indent=2))
        return 0
    if not entries:
        print(f"no deployments recorded for {args.environment} ({deployment.record.path})")
        return 0
    columns = ("finished", "action", "version", "outcome", "strategy", "previous_version", "triggered_by", "reason")
    rows = [[str(getattr(e, c) or "") for c in columns] for e in entries]
    widths = [min(60, max(len(c), *(len(r[i]) for r in rows))) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in rows:
        print("  ".join(v[:w].ljust(w) for v, w in zip(row, widths)).rstrip())
    return 0
