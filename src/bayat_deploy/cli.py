"""`bayat-deploy`: one command per pipeline stage. Sub-command modules are imported only when used,
so `bayat-deploy --version` and `--help` start in milliseconds."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bayat_deploy import __version__, argtypes
from bayat_deploy.errors import EXIT_BAD_INPUT, EXIT_FAILED, BayatError

# name -> (module with `configure(parser)`, one-line help). Order is the order of the pipeline.
COMMANDS: dict[str, tuple[str, str]] = {
    "policy": ("bayat_deploy.policy.cli", "validate the deployment policy, show it with defaults, print its schema"),
    "version": ("bayat_deploy.stages.version", "compute the SemVer version from Conventional Commits, tag it, "
                                               "write the version file"),
    "config": ("bayat_deploy.stages.config", "validate the configuration hierarchy for an environment"),
    "build": ("bayat_deploy.stages.build", "build every artifact in the policy, run static analysis, make SBOMs"),
    "test": ("bayat_deploy.stages.test", "run the configured test suites and performance tests, collect JUnit"),
    "scan": ("bayat_deploy.stages.scan", "security scan: vulnerabilities, secrets, misconfigurations, SAST, "
                                         "infrastructure validation"),
    "publish": ("bayat_deploy.stages.publish", "push artifacts to their registries, immutably, signed"),
    "verify-signature": ("bayat_deploy.stages.signature", "verify a published image's signature"),
    "retention": ("bayat_deploy.stages.retention", "apply the retention policy to the registry"),
    "release-notes": ("bayat_deploy.stages.release_notes", "write release notes with the standard's ten sections"),
    "approvals": ("bayat_deploy.stages.approvals", "record who approved a deployment (GitHub/GitLab API, or an "
                                                   "attestation)"),
    "window": ("bayat_deploy.stages.window", "maintenance windows: check (exit 0 inside, 1 outside; --emergency) "
                                             "and next"),
    "gate": ("bayat_deploy.stages.gate", "the required-checks gate: every check, pass/fail, why, from which "
                                         "evidence"),
    "deploy": ("bayat_deploy.stages.deploy", "roll a published version out to an environment with its strategy"),
    "verify": ("bayat_deploy.stages.verify", "smoke-test a deployment; roll back automatically when it fails"),
    "analyze": ("bayat_deploy.stages.analyze", "canary analysis now: baseline vs canary from real metrics "
                                               "(thresholds and Mann-Whitney U)"),
    "monitor": ("bayat_deploy.stages.monitor", "watch metrics before vs after a deploy; alert on regressions, roll "
                                               "back on a breached trigger"),
    "rescan": ("bayat_deploy.stages.rescan", "scan the image serving an environment again; roll back on a "
                                             "vulnerability at the rollback trigger's severity"),
    "notify": ("bayat_deploy.stages.notify", "send a deployment or maintenance notification to the policy's routes"),
    "promote": ("bayat_deploy.stages.promote", "finish a paused canary or blue/green deployment"),
    "abort": ("bayat_deploy.stages.promote", "stop a paused canary or blue/green deployment, back to the previous"),
    "rollback": ("bayat_deploy.stages.rollback", "return an environment to its last good release (or --drill)"),
    "history": ("bayat_deploy.stages.history", "list every deployment attempt of an environment"),
    "evidence": ("bayat_deploy.stages.bundle", "evidence bundle: the compliance record of a deployment"),
    "environments": ("bayat_deploy.stages.environments", "sync the CI platform's environments with the policy: "
                                                         "reviewers, branch policies, approval rules, freezes"),
}


def add_common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """--policy and -v are accepted before or after the command name."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--policy", metavar="PATH", default=default, type=argtypes.path_text,
                        help="policy file (default: .bayat/deploy.yml)")
    parser.add_argument("-v", "--verbose", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="print tracebacks and debug output")


def _requested(argv: Sequence[str], commands: dict) -> str | None:
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--policy":
            skip = True
        elif not arg.startswith("-"):
            return arg if arg in commands else None
    return None


def build_parser(prog: str, description: str, commands: dict[str, tuple[str, str]],
                 argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _requested(argv, commands)
    for name, (module, help_text) in commands.items():
        child = sub.add_parser(name, help=help_text, description=help_text)
        add_common(child)
        if name == chosen:
            importlib.import_module(module).configure(child)
    return parser


def run(prog: str, description: str, commands: dict[str, tuple[str, str]],
        argv: Sequence[str] | None = None, default: Callable | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_parsed(build_parser(prog, description, commands, argv), argv, default)


def run_parsed(parser: argparse.ArgumentParser, argv: Sequence[str], default: Callable | None = None) -> int:
    """Parse, call the handler, and turn our errors into messages and exit codes (tracebacks with -v)."""
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None) or default
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    from bayat_deploy.redact import RedactingStream

    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(stdout), RedactingStream(stderr)
    try:
        return _call(handler, args)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = stdout, stderr


def _call(handler: Callable, args: argparse.Namespace) -> int:
    try:
        return int(handler(args) or 0)
    except BayatError as exc:
        if args.verbose:
            import traceback

            traceback.print_exc()
        for line in exc.lines():
            print(line, file=sys.stderr)
        _annotate(getattr(exc, "diagnostics", ()))
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug of ours: say so plainly, trace only when asked
        if args.verbose:
            raise
        print(f"internal error: {type(exc).__name__}: {exc} (run again with -v for the traceback)", file=sys.stderr)
        return EXIT_FAILED


def invoke(argv: Sequence[str], *, like: argparse.Namespace | None = None) -> int:
    """One more command in this process, as `bayat-deploy ARGV` runs it: its errors printed, its exit code
    returned (the deploy sequence runs its steps this way). `like`: the calling command's arguments, whose
    `--policy` the step gets too."""
    policy = getattr(like, "policy", None)
    argv = [*(["--policy", policy] if policy else []), *argv]
    args = build_parser("bayat-deploy", "", COMMANDS, argv).parse_args(argv)
    return _call(args.handler, args)


def _annotate(diagnostics) -> None:
    """Policy errors also as annotations on the file and line, where the CI shows them (GitHub's workflow
    commands); the lines above are the same findings for a terminal."""
    if not diagnostics:
        return
    from bayat_deploy.context import RunContext
    from bayat_deploy.platform import Annotation, for_context

    platform = for_context(RunContext.from_environment(), Path.cwd())
    if not platform.shows_annotations:
        return
    for found in diagnostics:
        where = f"{found.path}: " if found.path else ""
        platform.annotate(Annotation(found.level, f"{where}{found.message}", file=found.file, line=found.line,
                                     column=found.column, title=found.rule or None))


def main(argv: Sequence[str] | None = None) -> int:
    return run("bayat-deploy", "Run one stage of the Bayat deployment standard.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
