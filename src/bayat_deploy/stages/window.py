"""`bayat-deploy window check|next --env ENV`: is a maintenance window open, and when does the next one open.

`check` exits 0 inside a window (or where no window applies), 1 outside, printing the next opening;
`--emergency --reason ... --approved-by ...` passes outside a window where the policy allows it and
records the override. Every `check` writes `window-<env>.json` evidence, which the gate reads.
"""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes


def _common(child: argparse.ArgumentParser) -> None:
    from bayat_deploy.stages.deploy import add_environment

    add_environment(child)
    child.add_argument("--at", metavar="TIME", type=argtypes.instant,
                       help="decide for this ISO 8601 time instead of now, e.g. 2026-03-29T02:30:00+02:00 or "
                            "2026-03-29T00:30Z (a time without an offset is UTC)")
    child.add_argument("--policy", metavar="PATH", type=argtypes.path_text, default=argparse.SUPPRESS,
                       help="policy file (default: .bayat/deploy.yml)")
    child.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                       help="print tracebacks and debug output")


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="window_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="exit 0 inside a maintenance window, 1 outside (printing the next "
                                         "opening); writes window-ENV.json evidence")
    _common(check)
    check.add_argument("--emergency", action="store_true",
                       help="override a closed window (standard: Emergency Maintenance); needs --reason and "
                            "--approved-by and maintenance.emergency.allowed")
    check.add_argument("--reason", metavar="TEXT", type=argtypes.text, help="why the change cannot wait (recorded and announced)")
    check.add_argument("--approved-by", action="append", metavar="LOGIN[,LOGIN]", type=argtypes.logins,
                       help="who approved the emergency (repeatable or comma-separated); must include someone "
                            "from maintenance.emergency.approvers when that list names users; default: the "
                            "approvers `approvals record --rule emergency` recorded for this commit")
    check.add_argument("--version", metavar="VERSION", type=argtypes.version, help="the version the emergency change deploys (recorded)")
    check.set_defaults(handler=run_check)
    announce = sub.add_parser("announce", help="tell the notification routes of the next window when its "
                                               "announcement is due (maintenance.announce_before); run it on a "
                                               "schedule of --every")
    _common(announce)
    announce.add_argument("--every", type=argtypes.duration, default=3600.0, metavar="DURATION",
                          help="how often the schedule runs this (default 1h): each window is announced by exactly "
                               "one run")
    announce.set_defaults(handler=run_announce)
    upcoming = sub.add_parser("next", help="list the next openings of the environment's maintenance windows")
    _common(upcoming)
    upcoming.add_argument("--count", type=argtypes.count, default=3, metavar="N", help="how many openings (default 3)")
    upcoming.set_defaults(handler=run_next)


def _instant(at):
    """--at as given (already a UTC datetime), else now."""
    from datetime import datetime, timezone

    return at or datetime.now(timezone.utc).replace(microsecond=0)


def run_next(args: argparse.Namespace) -> int:
    from bayat_deploy.errors import BadInput
    from bayat_deploy.gates.window import current_opening, upcoming_openings, utc_text
    from bayat_deploy.session import open_session

    if args.count < 1:
        raise BadInput("--count must be 1 or more")
    at = _instant(args.at)
    session = open_session(args)
    env = session.policy.environment(args.environment)
    windows = env.maintenance.windows
    if not windows:
        print(f"{args.environment}: not restricted - no maintenance windows in the policy")
        return 0
    print(f"{args.environment}: maintenance windows after {utc_text(at)}"
          f"{'' if env.maintenance.enforce else ' (not enforced: maintenance.enforce is false)'}")
    current = current_opening(windows, at)
    if current:
        print(f"  open now: {current.describe()}")
    for opening in upcoming_openings(windows, at, args.count):
        print(f"  {opening.describe()}")
    return 0


def run_announce(args: argparse.Namespace) -> int:
    """Maintenance Procedures, 1: announce the maintenance period to stakeholders, announce_before ahead."""
    from bayat_deploy.gates import notify
    from bayat_deploy.gates.window import announced_from, announcement_due, upcoming_openings, utc_text
    from bayat_deploy.session import open_session

    at = _instant(args.at)
    session = open_session(args)
    name = args.environment
    maintenance = session.policy.environment(name).maintenance
    if not (maintenance.announce and maintenance.windows):
        print(f"{name}: nothing to announce (maintenance.announce is off or there are no windows)")
        return 0
    opening = announcement_due(maintenance, at, args.every)
    if opening is None:
        upcoming = upcoming_openings(maintenance.windows, at)
        when = (f"; the next, {upcoming[0].describe()}, is announced from "
                f"{utc_text(announced_from(upcoming[0], maintenance))}") if upcoming else ""
        print(f"{name}: no announcement due at {utc_text(at)}{when}")
        return 0
    deliveries = notify.send(session, event="maintenance", level="info", environment=name,
                             title=f"Maintenance of {name}: {opening.describe()}",
                             text=f"Deployments to {name} happen in this window: {opening.describe()}.",
                             details={"start": opening.start.isoformat(), "end": opening.end.isoformat(),
                                      "window": opening.window.description or opening.window.cron})
    failed = [d for d in deliveries or [] if getattr(d, "status", "") == "failed"]
    print(f"{name}: announced {opening.describe()} to {len(deliveries or []) - len(failed)} route(s)")
    for delivery in failed:
        print(f"  {delivery.route}: failed: {delivery.detail}")
    return 1 if failed else 0


def run_check(args: argparse.Namespace) -> int:
    from bayat_deploy.gates import emergency
    from bayat_deploy.gates.window import decide, utc_text
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    approved_by = emergency.split_list(args.approved_by)
    at = _instant(args.at)
    session = open_session(args)
    name = args.environment
    if args.emergency and not approved_by:  # in a pipeline: who approved the `<env>-emergency` environment
        approved_by = emergency.recorded_approvers(session, name)
    emergency.validate_flags(args.emergency, args.reason, approved_by)
    env = session.policy.environment(name)
    decision = decide(env.maintenance, at)
    run = StageRun(session, "window", environment=name, version=args.version, inputs={
        "at": args.at.isoformat() if args.at else None, "emergency": args.emergency, "reason": args.reason, "approved_by": approved_by})
    run.details.update(decision.as_dict(), enforce=env.maintenance.enforce, override=None)
    run.summary.update(decision=run.details["decision"], enforce=env.maintenance.enforce)
    enforced = "" if env.maintenance.enforce else \
        f" (not enforced: environments.{name}.maintenance.enforce is false, so the gate does not hold deploys)"
    next_text = decision.next.describe() if decision.next else "none (no window ever opens again)"
    if decision.next:
        run.output("next_opening", decision.next.start.isoformat())

    if not decision.restricted:
        return run.finish(True, f"{name} is not restricted: no maintenance windows in the policy")
    if decision.inside:
        note = "; emergency flags ignored: a window is open, no override recorded" if args.emergency else ""
        return run.finish(True, f"inside a maintenance window at {utc_text(at)}: {decision.current.describe()}"
                                f"{note}", _markdown(decision, None))
    if not args.emergency:
        run.finding(id="window.closed", severity="INFO", tool="bayat-deploy", blocking=env.maintenance.enforce,
                    title=f"outside every maintenance window of {name}", detail=f"next opening: {next_text}")
        return run.finish(False, f"outside every maintenance window of {name} at {utc_text(at)}; next opening: "
                                 f"{next_text}{enforced}", _markdown(decision, None))

    override = emergency.decide(session.policy, name, session.context.actor, args.reason, approved_by)
    if override.granted:
        opening = decision.next.as_dict() if decision.next else None
        emergency.record(session, name, override, args.version, opening)
        emergency.announce(session, name, override, args.version, next_text)
        if override.announce_problem:
            print(f"warning: emergency override {override.announce_problem}")
    run.details["override"] = override.as_dict()
    run.details["decision"] = "emergency" if override.granted else "outside"
    run.summary["decision"] = run.details["decision"]
    if not override.granted:
        run.finding(id="window.emergency-refused", severity="HIGH", tool="bayat-deploy", blocking=True,
                    title=f"emergency override refused: {override.why}")
        return run.finish(False, f"outside every maintenance window of {name} and the emergency override was "
                                 f"refused: {override.why}; next opening: {next_text}", _markdown(decision, override))
    return run.finish(True, f"EMERGENCY override outside the maintenance window of {name}: {override.why}; "
                            f"reason: {override.reason}; recorded as entry {override.record_entry} in "
                            f"{override.record_file}; next regular opening: {next_text}", _markdown(decision, override))


def _markdown(decision, override) -> str:
    rows = [("checked at", decision.at.isoformat()),
            ("open window", decision.current.describe() if decision.current else "none"),
            ("next opening", decision.next.describe() if decision.next else "none")]
    if override is not None:
        rows += [("emergency", "granted" if override.granted else "REFUSED"), ("reason", override.reason),
                 ("approved by", ", ".join(override.approved_by)), ("why", override.why)]
        if override.record_entry:
            rows.append(("record entry", f"{override.record_entry} in {override.record_file}"))
        if override.announced or override.announce_problem:
            sent = ", ".join(f"{d.get('route')}: {d.get('status')}" for d in override.announced) or "-"
            rows.append(("announced", sent + (f" ({override.announce_problem})" if override.announce_problem else "")))
    body = "\n".join(f"| {key} | {str(value).replace('|', '/')} |" for key, value in rows)
    return "| | |\n|---|---|\n" + body
