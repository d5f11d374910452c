"""`bayat-deploy release-notes`: Markdown and JSON release notes with the standard's ten sections, and the
"release documentation is complete" check (`--check`). Section sources and the completeness rules are
described in `bayat_deploy.release_notes`."""

from __future__ import annotations

import argparse
from pathlib import Path

from bayat_deploy import argtypes

NOTES_DIR = Path(".bayat/release-notes")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", metavar="V", type=argtypes.version,
                        help="version the notes are for (default: the version tag on HEAD, else the next version)")
    parser.add_argument("--since", metavar="REF", type=argtypes.revision,
                        help="count changes from this revision (default: the previous release tag; without one, "
                             "the whole history)")
    parser.add_argument("--env", "--environment", dest="env", metavar="ENV", default="production", type=argtypes.environment,
                        help="environment the release goes to: used in the rollback command and for --check "
                             "(default: production)")
    parser.add_argument("--output", metavar="DIR", type=argtypes.path_text,
                        help=f"directory for <version>.md and <version>.json (default: {NOTES_DIR} in the repository)")
    summary = parser.add_mutually_exclusive_group()
    summary.add_argument("--summary", metavar="TEXT", type=argtypes.paragraph, help="the summary section (default: the annotated version "
                                                           "tag's message, else a generated count of changes)")
    summary.add_argument("--summary-file", metavar="FILE", type=argtypes.path_text, help="read the summary section from a file")
    parser.add_argument("--check", action="store_true",
                        help="fail (exit 1) when a section that release_notes.required lists is empty and --env "
                             "is in release_notes.required_for")
    parser.set_defaults(handler=release_notes)


def _summary(args) -> str | None:
    from bayat_deploy.errors import BadInput

    if args.summary_file:
        path = Path(args.summary_file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"--summary-file {path}: cannot read it ({exc})") from None
        if not text.strip():
            raise BadInput(f"--summary-file {path}: the file is empty")
        return text.strip()
    if args.summary is not None and not args.summary.strip():
        raise BadInput("--summary: the text is empty")
    return args.summary.strip() if args.summary else None


def release_notes(args) -> int:
    from bayat_deploy.fsutil import write_atomic
    from bayat_deploy.release_notes import collect
    from bayat_deploy.release_notes.render import to_json, to_markdown
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun
    from bayat_deploy.versioning import resolve_version

    session = open_session(args)
    policy = session.policy
    policy.environment(args.env)  # an unknown environment is bad input
    summary = _summary(args)
    version = resolve_version(session, args.version)
    notes = collect(session, version, since=args.since, environment=args.env, summary=summary)

    directory = Path(args.output).resolve() if args.output else session.root / NOTES_DIR
    markdown_path, json_path = directory / f"{version}.md", directory / f"{version}.json"
    write_atomic(markdown_path, to_markdown(notes))
    write_atomic(json_path, to_json(notes))
    print(f"release notes: {markdown_path}")
    print(f"release notes: {json_path}")

    required = [name for name in policy.release_notes.required if name in notes.sections]
    applies = args.env in policy.release_notes.required_for
    missing = [name for name in required if not notes.sections[name].filled]
    run = StageRun(session, "release-notes", version=version, inputs={
        "version": args.version, "since": args.since, "env": args.env, "check": args.check,
        "summary": "given" if summary else None})
    run.summary.update(notes.counts(), complete=not missing)
    run.details.update(
        sections={name: section.filled for name, section in notes.sections.items()},
        required=required, required_for=list(policy.release_notes.required_for), environment=args.env,
        required_for_environment=applies, missing=missing, complete=not missing,
        previous_version=str(notes.previous.version) if notes.previous else None, since=notes.since,
        markdown=str(markdown_path), json=str(json_path))
    run.artifact(type="release-notes", name=markdown_path.name, path=str(markdown_path))
    run.artifact(type="release-notes", name=json_path.name, path=str(json_path))
    run.output("version", version)
    run.output("release_notes", str(markdown_path))
    run.output("release_notes_json", str(json_path))

    table = "\n".join(["| section | filled | note |", "|---|---|---|"] + [
        f"| {s.title} | {'yes' if s.filled else '**no**' if name in required else 'no'}"
        f"{' (None)' if s.none else ''} | {s.note.replace('|', '/')} |" for name, s in notes.sections.items()])
    if args.check and applies and missing:
        for name in missing:
            section = notes.sections[name]
            run.finding(id=f"release-notes-{name.replace('_', '-')}", severity="INFO", tool="bayat-deploy",
                        title=f"required section '{section.title}' is empty", detail=section.note, blocking=True)
        return run.finish(False, f"release documentation for {args.env} is incomplete: required section(s) "
                                 f"empty: {', '.join(missing)}", table)
    if not missing:
        state = "complete"
    elif args.check:
        state = f"not required for {args.env}; empty: {', '.join(missing)}"
    else:
        state = f"incomplete (not checked): {', '.join(missing)}"
    return run.finish(True, f"release notes for {version} written ({state})", table)

