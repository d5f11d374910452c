"""`bayat-deploy policy validate|show|schema`."""

from __future__ import annotations

import argparse
import json
import sys

from bayat_deploy import argtypes


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="policy_command", metavar="ACTION", required=True)
    validate = sub.add_parser("validate", help="check the policy; exit 0 when valid, 2 with every error found")
    validate.set_defaults(handler=_validate)
    show = sub.add_parser("show", help="print the effective policy with every default of the standard filled in")
    show.add_argument("--format", choices=("yaml", "json"), default="yaml", help="output format (default: yaml)")
    show.add_argument("--environment", "--env", dest="environment", metavar="ENV", type=argtypes.environment,
                      help="show only this environment's effective settings")
    show.set_defaults(handler=_show)
    schema = sub.add_parser("schema", help="print the JSON Schema of .bayat/deploy.yml")
    schema.set_defaults(handler=_schema)
    for child in (validate, show):
        child.add_argument("--policy", metavar="PATH", type=argtypes.path_text, default=argparse.SUPPRESS,
                           help="policy file (default: .bayat/deploy.yml)")


def _load(args: argparse.Namespace):
    from bayat_deploy.policy.loader import load_policy

    loaded = load_policy(getattr(args, "policy", None))
    for warning in loaded.warnings:
        print(warning.format(), file=sys.stderr)
    return loaded


def _validate(args: argparse.Namespace) -> int:
    loaded = _load(args)
    policy = loaded.policy
    print(f"{loaded.path}: ok: project {policy.project}, environments {', '.join(policy.environments)}"
          + (f" ({len(loaded.warnings)} warning(s))" if loaded.warnings else ""))
    return 0


def _show(args: argparse.Namespace) -> int:
    from bayat_deploy.policy.dump import to_json, to_yaml

    policy = _load(args).policy
    value = policy.environment(args.environment) if args.environment else policy
    sys.stdout.write(to_json(value) if args.format == "json" else to_yaml(value))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from bayat_deploy.policy.schema import policy_schema

    print(json.dumps(policy_schema(), indent=2))
    return 0
