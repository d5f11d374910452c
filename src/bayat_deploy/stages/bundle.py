"""`bayat-deploy evidence bundle --env ENV`: the compliance bundle of a deployment, JSON plus a Markdown twin.

The bundle is always written. Exit 1 when the project is regulated (`compliance.regulated`) and a required
part is missing; otherwise 0, with the missing parts listed.
"""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="evidence_command", metavar="ACTION", required=True)
    bundle = sub.add_parser("bundle", help="write the compliance bundle (who shipped what, checked how) of an "
                                           "environment's deployment: one JSON file and a Markdown twin")
    from bayat_deploy.stages.deploy import add_environment

    add_environment(bundle)
    bundle.add_argument("--output", metavar="FILE", type=argtypes.path_text,
                        help="where to write the JSON (default: .bayat/reports/compliance-ENV.json); the Markdown "
                             "twin goes beside it with .md")
    bundle.add_argument("--version", metavar="VERSION", type=argtypes.version,
                        help="the deployed version (default: the version in deploy-ENV.json)")
    bundle.add_argument("--policy", metavar="PATH", type=argtypes.path_text, default=argparse.SUPPRESS,
                        help="policy file (default: .bayat/deploy.yml)")
    bundle.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="print tracebacks and debug output")
    bundle.set_defaults(handler=run_bundle)


def run_bundle(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from bayat_deploy.fsutil import write_atomic
    from bayat_deploy.gates.compliance import Bundle
    from bayat_deploy.session import open_session

    session = open_session(args)
    bundle = Bundle(session, args.environment, args.version)
    document = bundle.build()
    output = Path(args.output).resolve() if args.output else session.reports_dir / f"compliance-{args.environment}.json"
    twin = output.with_suffix(".md")
    write_atomic(output, json.dumps(document, indent=2, default=str) + "\n")
    markdown = to_markdown(document)
    write_atomic(twin, markdown)
    platform = session.platform
    platform.set_output("bundle", str(output))
    platform.set_output("bundle_markdown", str(twin))
    platform.set_output("complete", "true" if document["complete"] else "false")
    missing = document["missing"]
    regulated = document["regulated"]
    failed = bool(missing) and regulated
    state = "complete" if not missing else f"missing required part(s): {', '.join(missing)}"
    platform.summary(f"### compliance bundle ({args.environment}): {'FAILED' if failed else state}\n\n"
                     + markdown.split("\n", 2)[-1])
    for part in document["parts"]:
        if not part["present"]:
            print(f"{'missing' if part['required'] else 'absent (not required)'}: {part['name']}: {part['problem']}")
    print(f"evidence bundle: {state}{' (regulated project: required parts must be present)' if failed else ''}")
    print(f"bundle: {output}")
    print(f"bundle: {twin}")
    return 1 if failed else 0


def to_markdown(document: dict) -> str:
    answer = document["answer"]
    what = answer["what"]
    image = f" ({what['image']})" if what.get("image") else ""
    emergency = answer.get("emergency")
    override = f" (EMERGENCY override: {emergency.get('reason')})" if emergency else ""
    lines = [f"# Compliance bundle: {document['project']} {document['version'] or ''} in {document['environment']}",
             "",
             "| question | answer |", "|---|---|",
             f"| who deployed | {answer['who_deployed'] or '-'} |",
             f"| who approved | {'<br>'.join(answer['who_approved']) or '-'} |",
             f"| what | {what['version'] or '-'} @ {what['commit'] or '-'}{image} |",
             f"| when | {answer['when'] or '-'} ({answer['outcome'] or 'no deployment recorded'}) |",
             f"| change ticket | {answer['change_ticket'] or '-'} |",
             f"| window | {answer['window'] or '-'}{override} |",
             f"| checked how | {'<br>'.join(answer['checked_how'])} |",
             "",
             f"Generated {document['generated']} by {document['generated_by'] or '-'}; policy "
             f"{document['policy_fingerprint']}; {'complete' if document['complete'] else 'INCOMPLETE'}"
             f"{' (regulated project)' if document['regulated'] else ''}.",
             "",
             "| part | required | present | source | sha256 | note |", "|---|---|---|---|---|---|"]
    for part in document["parts"]:
        source = part["source"] or {}
        note = part["problem"] or (part["summary"] or {}).get("headline") or ""
        lines.append(f"| {part['name']} | {'yes' if part['required'] else 'no'} | "
                     f"{'yes' if part['present'] else '**no**'} | `{source.get('file') or '-'}` | "
                     f"{(source.get('sha256') or '-')[:16]} | {str(note).replace('|', '/')} |")
    return "\n".join(lines) + "\n"
