"""`bayat-deploy version next|current|tag|write`: the release version from Conventional Commits and tags.

`next` and `current` print the version alone on stdout, so `V=$(bayat-deploy version next)` works in any
shell step; notes go to stderr and no evidence is written. `tag` and `write` are stage runs: they write
the `version` evidence (the version, why, and the commits considered).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bayat_deploy import argtypes

REPO_HELP = "git repository to read (default: the current directory); its .bayat/deploy.yml is used unless " \
            "--policy says otherwise, and without any policy the standard's defaults apply"


def configure(parser: argparse.ArgumentParser) -> None:
    from bayat_deploy.cli import add_common

    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, help_text: str, handler) -> argparse.ArgumentParser:
        child = actions.add_parser(name, help=help_text, description=help_text)
        add_common(child)
        child.add_argument("--repo", metavar="DIR", type=argtypes.path_text, help=REPO_HELP)
        child.set_defaults(handler=handler)
        return child

    action("next", "print the version the next release of HEAD gets (a pre-release off the release branches)",
           next_version)
    action("current", "print the version HEAD is released as: the pipeline's version tag, else the last "
                      "release tag reachable from HEAD, else 0.0.0", current_version)
    tag = action("tag", "create the annotated release tag <prefix><next version> at HEAD (refuses when it exists "
                        "or tracked files have uncommitted changes)", create_tag)
    tag.add_argument("--push", action="store_true", help="push the tag to the remote afterwards")
    tag.add_argument("--remote", default="origin", type=argtypes.word, help="remote --push pushes to (default: origin)")
    tag.add_argument("--summary", metavar="TEXT", type=argtypes.paragraph,
                     help="first paragraph of the tag message; release notes use it as their summary")
    write = action("write", "write the version file (version, git SHA, build time, pipeline URL, who triggered) "
                            "and print its path", write_file)
    write.add_argument("--output", metavar="PATH", type=argtypes.path_text,
                       help="where to write it (default: versioning.version_file in the repository, version.json)")
    write.add_argument("--version", metavar="V", type=argtypes.version,
                       help="version to record (default: the version tag on HEAD, else the next version)")


def _session(args):
    from bayat_deploy.versioning.session import open_repo_session

    return open_repo_session(getattr(args, "policy", None), args.repo)


def _repo(args) -> Path:
    return Path(args.repo).resolve() if args.repo else Path.cwd()


def _print_plan(session, plan) -> int:
    """The version alone on stdout (notes on stderr), and as the `version` output of a pipeline step."""
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    print(plan.version)
    session.platform.set_output("version", plan.version)
    return 0


def next_version(args) -> int:
    from bayat_deploy.versioning import plan_next

    session = _session(args)
    return _print_plan(session, plan_next(session, _repo(args)))


def current_version(args) -> int:
    from bayat_deploy.versioning import plan_current

    session = _session(args)
    return _print_plan(session, plan_current(session, _repo(args)))


def create_tag(args) -> int:
    from bayat_deploy.stages.run import StageRun
    from bayat_deploy.versioning import plan_next
    from bayat_deploy.versioning.tagging import create_release_tag, push_tag

    session = _session(args)
    plan = plan_next(session, _repo(args))
    for note in plan.notes:
        print(f"note: {note}", file=sys.stderr)
    tag = create_release_tag(session, _repo(args), plan, summary=args.summary)
    print(tag.name)
    if tag.existed:
        print(f"note: {tag.name} is already on HEAD (a re-run); nothing to tag", file=sys.stderr)
    run = StageRun(session, "version", version=plan.version, inputs={"action": "tag", "push": args.push})
    run.details.update(plan.to_json(), tag=tag.name, tag_commit=tag.commit, pushed=False)
    run.summary.update(version=plan.version, bump=plan.bump.label, commits=len(plan.commits))
    run.output("version", plan.version)
    run.output("tag", tag.name)
    if args.push:
        error = push_tag(_repo(args), tag.name, args.remote, session.platform.git_credentials())
        run.details["pushed"] = error is None
        if error:
            return run.finish(False, f"tag {tag.name} created but not pushed to {args.remote}", error)
    where = f" and pushed to {args.remote}" if args.push else ""
    return run.finish(True, f"tagged {tag.commit[:7]} as {tag.name}{where} ({plan.reason})", _plan_markdown(plan))


def write_file(args) -> int:
    from bayat_deploy.stages.run import StageRun
    from bayat_deploy.versioning import plan_next, resolve_version
    from bayat_deploy.versioning.version_file import write_version_file

    session = _session(args)
    version = resolve_version(session, args.version)
    plan = None if args.version is not None else plan_next(session, _repo(args))
    if plan is not None and plan.version != version:
        plan = None  # HEAD carries a version tag: that is the version, nothing was computed
    path = write_version_file(session, version, Path(args.output).resolve() if args.output else None)
    print(path)
    run = StageRun(session, "version", version=version, inputs={"action": "write", "version": args.version,
                                                                   "output": args.output})
    if plan is not None:
        run.details.update(plan.to_json())
    else:
        run.details["reason"] = "given with --version" if args.version is not None else "the version tag on HEAD"
    run.details.update(version=version, version_file=str(path))
    run.summary.update(version=version)
    run.artifact(type="version-file", name=path.name, path=str(path))
    run.output("version", version)
    run.output("version_file", str(path))
    return run.finish(True, f"version {version} written to {path}", _plan_markdown(plan) if plan else "")


def _plan_markdown(plan) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    rows = [f"| `{c.short_sha}` | {cell(c.subject)} | {c.bump.label} |" for c in plan.commits[:50]]
    table = "\n".join(["| commit | subject | bump |", "|---|---|---|", *rows]) if rows else \
        "_No commits since the last release._"
    more = f"\n\n_and {len(plan.commits) - 50} more commits_" if len(plan.commits) > 50 else ""
    return f"**{plan.version}**: {plan.reason}\n\n{table}{more}"
