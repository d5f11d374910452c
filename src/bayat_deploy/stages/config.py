"""`bayat-deploy config validate --env ENV`: the configuration an environment will run with, checked
before it is deployed (standard: Configuration Management). Evidence: config-ENV.json, read by the
gate's `config` check."""

from __future__ import annotations

import argparse

from bayat_deploy import argtypes


def configure(parser: argparse.ArgumentParser) -> None:
    from bayat_deploy.cli import add_common

    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    validate = sub.add_parser(
        "validate", help="resolve the configuration hierarchy of an environment and check it",
        description="Resolve defaults (config.keys) -> files (config.files) -> environment variables "
                    "(config.env_prefix) -> configuration service (config.service), then check required keys, "
                    "types and formats, secrets only by reference, and environment isolation. Exit 0 when "
                    "valid, 1 with every problem found, 2 for bad input.")
    validate.add_argument("--env", "--environment", dest="environment", metavar="ENV", required=True, type=argtypes.environment,
                          help="environment whose configuration is validated ({environment} in config.files and "
                               "the configuration service path)")
    validate.add_argument("--connect", action="store_true",
                          help="also check that keys with check_connectivity answer (URL: HTTP GET, any answer "
                               "below 500; host:port: TCP connect) and that secret references resolve "
                               "(values are never printed)")
    validate.add_argument("--show", action="store_true",
                          help="print the effective configuration: key, value (secrets masked), source layer")
    add_common(validate)
    validate.set_defaults(handler=validate_config)


def validate_config(args: argparse.Namespace) -> int:
    from bayat_deploy.configuration import connectivity, report, rules
    from bayat_deploy.configuration.hierarchy import resolve
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    policy, environment = session.policy, args.environment
    policy.environment(environment)  # an unknown environment is bad input, named with the ones that exist
    resolution = resolve(policy, environment, session.context, session.root)
    problems = (rules.check_sources(resolution) + rules.check_keys(resolution, policy)
                + rules.check_secrets(resolution, policy) + rules.check_isolation(resolution, policy, session.root))
    checks = []
    if args.connect:
        problems += connectivity.check_references(resolution, session.context, session.root)
        checks, unreachable = connectivity.check_connections(resolution, session.context, session.root)
        problems += unreachable
    problems.sort(key=lambda p: (p.location is None, p.location.file if p.location else "",
                                 p.location.line if p.location else 0, p.location.column if p.location else 0))

    run = StageRun(session, "config", environment=environment,
                   inputs={"files": [policy.substitute(f, environment) for f in policy.config.files],
                           "env_prefix": policy.config.env_prefix, "service": resolution.service,
                           "connect": args.connect})
    for problem in problems:
        run.finding(id=f"config.{problem.rule}" + (f":{problem.key}" if problem.key else ""),
                    severity="HIGH" if problem.security else "INFO", tool="bayat-deploy config",
                    title=f"{problem.key}: {problem.message}" if problem.key else problem.message,
                    file=problem.location.file if problem.location else None,
                    line=problem.location.line if problem.location else None,
                    detail="" if problem.location else problem.format(), blocking=problem.level == "error")
    errors = [p for p in problems if p.level == "error"]
    warnings = [p for p in problems if p.level != "error"]
    run.summary.update({"keys": len(resolution.entries), "declared": len(policy.config.keys),
                        "errors": len(errors), "warnings": len(warnings), "files_read": resolution.files_read,
                        "files_missing": resolution.files_missing, "service": resolution.service,
                        "connectivity_checks": len(checks),
                        "unreachable": sum(1 for c in checks if not c.ok)})
    run.output("errors", str(len(errors)))
    run.output("warnings", str(len(warnings)))
    run.details["effective"] = report.effective(resolution)
    run.details["problems"] = [p.format() for p in problems]
    if args.connect:
        run.details["connectivity"] = [c.as_dict() for c in checks]

    for problem in problems:
        print(problem.format())
    if resolution.files_missing:
        print(f"not present, skipped: {', '.join(resolution.files_missing)}")
    table = report.rows(resolution)
    if args.show:
        print(report.text_table(("key", "value", "source"), table) if table else "(no configuration keys)")
    headline = (f"{len(resolution.entries)} key(s) from {_layers(resolution)}: {len(errors)} error(s), "
                f"{len(warnings)} warning(s)" + (f", {len(checks)} connection(s) checked" if args.connect else ""))
    return run.finish(not errors, headline, _markdown(resolution, problems, checks, table, policy))


def _layers(resolution) -> str:
    files = len(resolution.files_read)
    parts = [f"{files} file(s)"] + (["the configuration service"] if resolution.service else [])
    return ", ".join(parts)


def _markdown(resolution, problems, checks, table, policy) -> str:
    from bayat_deploy.configuration.report import markdown_table

    parts = []
    if problems:
        parts.append("\n".join(f"- `{p.format()}`" for p in problems))
    if table:
        parts.append(markdown_table(("key", "value", "source"), table))
    if checks:
        parts.append(markdown_table(("key", "target", "reachable", "detail"),
                                    [(c.key, c.target, "yes" if c.ok else "NO", c.detail) for c in checks]))
    notes = []
    if resolution.files_missing:
        notes.append(f"files not present (skipped): {', '.join(resolution.files_missing)}")
    if not policy.config.keys:
        notes.append("no keys are declared in config.keys, so required keys, types and formats are not checked")
    parts.extend(f"_{note}_" for note in notes)
    return "\n\n".join(parts)
