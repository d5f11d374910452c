"""`bayat-deploy gate --env ENV`: every required check, pass or fail, why, and from which evidence.

Exit 0 when every check passes, 1 when any fails (missing evidence is a failure), 2 for bad input.
Writes `gate-<env>.json` with each check's result and provenance.
"""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes


def configure(parser: argparse.ArgumentParser) -> None:
    from bayat_deploy.stages.deploy import add_environment

    add_environment(parser)
    parser.add_argument("--version", metavar="VERSION", type=argtypes.version,
                        help="the version about to be deployed: evidence written for another version fails")
    parser.add_argument("--change-ticket", metavar="REF", type=argtypes.text,
                        help="change-management reference (default: the CHANGE_TICKET variable); must match "
                             "environments.ENV.change_ticket.pattern")
    parser.set_defaults(handler=run_gate)


def run_gate(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from bayat_deploy.gates.gate import Gate
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    gate = Gate(session, args.environment, version=args.version, change_ticket=args.change_ticket,
                now=datetime.now(timezone.utc).replace(microsecond=0))
    results = gate.run()
    run = StageRun(session, "gate", environment=args.environment, version=args.version,
                   inputs={"version": args.version, "change_ticket": gate.change_ticket,
                           "change_ticket_source": gate.ticket_source})
    failed = [r for r in results if not r.passed]
    run.details.update(checks=[r.to_dict() for r in results], commit_checked=gate.commit,
                       change_ticket={"reference": gate.change_ticket, "source": gate.ticket_source,
                                      "system": gate.env.change_ticket.system} if gate.change_ticket else None)
    run.summary.update(checks=len(results), passed=len(results) - len(failed), failed=[r.check for r in failed])
    for result in failed:
        first = result.evidence[0].shown if result.evidence else None
        run.finding(id=f"gate.{result.check}", severity="INFO", tool="bayat-deploy", blocking=True,
                    title=f"{result.check}: {result.reason}", detail=first or "")
    run.output("passed", "true" if not failed else "false")
    run.output("failed_checks", ",".join(r.check for r in failed))
    if gate.change_ticket:
        run.output("change_ticket", gate.change_ticket)
    print(_table(results))
    headline = (f"all {len(results)} required check(s) passed for {args.environment}" if not failed else
                f"{len(failed)} of {len(results)} required check(s) failed for {args.environment}: "
                + ", ".join(r.check for r in failed))
    return run.finish(not failed, headline, _markdown(results))


def _table(results) -> str:
    """One line per check: name, result, why, and the evidence file(s) in brackets."""
    width = max(len("CHECK"), *(len(r.check) for r in results)) if results else 5
    lines = [f"{'CHECK'.ljust(width)}  RESULT  WHY  [EVIDENCE]"]
    for r in results:
        evidence = f"  [{r.evidence_label}]" if r.evidence else ""
        lines.append(f"{r.check.ljust(width)}  {'pass' if r.passed else 'FAIL':<6}  {r.reason}{evidence}")
    return "\n".join(lines)


def _markdown(results) -> str:
    lines = ["| check | result | why | evidence |", "|---|---|---|---|"]
    for r in results:
        evidence = "<br>".join(f"`{s.shown}`" + (f" @ {s.envelope.commit[:7]}" if s.envelope and s.envelope.commit
                                                 else "") for s in r.evidence) or "-"
        lines.append(f"| {r.check} | {'pass' if r.passed else '**FAIL**'} | {r.reason.replace('|', '/')} | "
                     f"{evidence} |")
    return "\n".join(lines)
