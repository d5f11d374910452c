"""`bayat-deploy notify --event EVENT --env ENV`: tell the policy's notification routes what the pipeline did.

Pipelines call it for deployment start/success/failure/rollback and maintenance announcements. Exit 0 when
every route took the message (or aggregated it), 1 when a delivery failed, 2 for bad flags.
"""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes
from bayat_deploy.stages.deploy import add_environment, parse_pairs

DEFAULT_LEVEL = {"deploy-failed": "critical", "rollback": "warning", "alert": "warning"}
DEFAULT_TITLE = {
    "deploy-started": "Deployment of {version} to {environment} started",
    "deploy-succeeded": "{version} is live in {environment}",
    "deploy-failed": "Deployment of {version} to {environment} failed",
    "rollback": "{environment} was rolled back",
    "maintenance": "Maintenance of {environment}",
    "alert": "Alert in {environment}",
    "release-notes": "Release notes of {version}",
}


def configure(parser: argparse.ArgumentParser) -> None:
    from bayat_deploy.policy.model.operations import EVENTS, LEVELS

    add_environment(parser)
    parser.add_argument("--event", choices=EVENTS,
                        help="what happened; routes only receive the events listed in their `events`")
    parser.add_argument("--level", choices=LEVELS,
                        help="info, warning or critical (default: critical for deploy-failed, warning for rollback "
                             "and alert, info otherwise); routes drop levels below their `min_level`")
    parser.add_argument("--title", type=argtypes.text, help="one-line title (default: a sentence made from the event and version)")
    parser.add_argument("--text", default="", type=argtypes.paragraph, help="the message body, plain text")
    parser.add_argument("--version", type=argtypes.version, help="the version the message is about (default: version.json evidence)")
    parser.add_argument("--detail", action="append", metavar="KEY=VALUE", type=argtypes.key_value,
                        help="extra fact shown in the message (repeatable)")
    parser.add_argument("--flush", action="store_true",
                        help="send the summaries of aggregated alerts whose window has closed (with or without "
                             "--event)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from bayat_deploy import evidence
    from bayat_deploy.errors import BadInput
    from bayat_deploy.gates import notify
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    if not args.event and not args.flush:
        raise BadInput("give --event EVENT (or --flush to send due aggregation summaries)")
    session = open_session(args)
    env = session.policy.environment(args.environment)
    version = args.version
    if version is None:
        try:
            recorded = evidence.read(session.evidence_dir, "version")
        except ValueError:
            recorded = None
        version = recorded.version if recorded and recorded.version else ""
    details = parse_pairs(args.detail, "--detail")
    deliveries = []
    if args.flush:
        deliveries += notify.flush(session, args.environment)
    if args.event:
        level = args.level or DEFAULT_LEVEL.get(args.event, "info")
        title = args.title or DEFAULT_TITLE[args.event].format(version=version or "the release",
                                                               environment=args.environment)
        if args.event == "maintenance" and not args.text and env.maintenance.windows:
            args.text = env.maintenance.windows[0].description
        deliveries += notify.send(session, event=args.event, level=level, environment=args.environment,
                                  title=title, text=args.text or title, details=details, version=version)
    run_ = StageRun(session, "notify", environment=args.environment, version=version or None,
                    inputs={"event": args.event, "level": args.level, "title": args.title, "flush": args.flush})
    for delivery in deliveries:
        print(f"  {delivery.route} ({delivery.type}): {delivery.status}"
              f"{' summary' if delivery.summary else ''} - {delivery.detail}")
        if delivery.failed:
            run_.finding(id=f"delivery-{delivery.route}", severity="HIGH", tool="notify", blocking=True,
                         title=f"notification route {delivery.route} did not take the message",
                         detail=delivery.detail)
    run_.details["deliveries"] = [d.to_dict() for d in deliveries]
    failed = [d for d in deliveries if d.failed]
    run_.summary.update(routes=len(deliveries), failed=len(failed),
                        aggregated=sum(d.status == "aggregated" for d in deliveries))
    rows = "\n".join(f"| {d.route} | {d.type} | {d.status} | {d.detail} |" for d in deliveries)
    markdown = f"| route | type | result | detail |\n|---|---|---|---|\n{rows}" if deliveries else ""
    if not deliveries:
        headline = "no notification route matches this event, level and environment"
    elif failed:
        headline = f"{len(failed)} of {len(deliveries)} route(s) failed: {', '.join(d.route for d in failed)}"
    else:
        headline = f"{len(deliveries)} route(s): " + ", ".join(f"{d.route} {d.status}" for d in deliveries)
    return run_.finish(not failed, headline, markdown)
