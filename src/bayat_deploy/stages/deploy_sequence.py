"""The deploy job's sequence, written once: the generated GitHub and GitLab pipelines, the `deploy` action and
component, and a laptop all run it as `bayat-deploy deploy` with the flags below.

    [window --emergency] -> approvals record -> gate -> notify deploy-started -> deploy
                         -> evidence bundle -> notify deploy-succeeded | deploy-failed

(standard: Approval Gates, Required Checks, Notifications, Emergency Maintenance, Compliance). Each step is its
own command, with its own evidence and exit code, run in this process. The first step that fails stops the
sequence; the evidence bundle and the announcement of the result then run whatever happened, so a refused
gate is announced and kept like a failed rollout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bayat_deploy import argtypes
from bayat_deploy.errors import EXIT_OK

FLAGS = ("emergency", "record_approvals", "gate", "notify", "evidence_bundle")


def configure(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "the deploy job's sequence", "what runs around the deployment, in this order; the generated pipelines "
                                     "set all of it")
    group.add_argument("--emergency", action="store_true",
                       help="Emergency Maintenance: first open the window as an emergency (recorded and announced; "
                            "needs --reason and the emergency approval)")
    group.add_argument("--reason", type=argtypes.text, default="", metavar="TEXT",
                       help="why the change cannot wait for the next window (with --emergency)")
    group.add_argument("--record-approvals", action="store_true",
                       help="first record the approvals given for the environment (`approvals record`)")
    group.add_argument("--gate", action="store_true",
                       help="then pass the required-checks gate (`gate`), which reads every earlier stage's evidence")
    group.add_argument("--change-ticket", type=argtypes.text, default="", metavar="TICKET",
                       help="the change-management ticket the gate checks (production)")
    group.add_argument("--notify", action="store_true",
                       help="announce the deployment before it starts and its result after it ends")
    group.add_argument("--evidence-bundle", action="store_true",
                       help="afterwards keep the compliance evidence bundle, whatever the outcome")


def requested(args: argparse.Namespace) -> bool:
    return any(getattr(args, flag, False) for flag in FLAGS)


def run(args: argparse.Namespace, deploy: Callable[[argparse.Namespace], int]) -> int:
    common = ["--env", args.environment]
    version = ["--version", args.version]
    before = []
    if args.emergency:
        before.append(["window", "check", *common, *version, "--emergency", "--reason", args.reason])
    if args.record_approvals:
        before.append(["approvals", "record", *common])
    if args.gate:
        before.append(["gate", *common, *version, *(["--change-ticket", args.change_ticket]
                                                     if args.change_ticket else [])])
    if args.notify:
        before.append(["notify", *common, *version, "--event", "deploy-started"])

    code = EXIT_OK
    for step in before:
        code = _step(step, args)
        if code != EXIT_OK:
            break
    else:
        code = deploy(args)
    if args.evidence_bundle:
        _step(["evidence", "bundle", *common, *version], args)
    if args.notify:
        event = "deploy-succeeded" if code == EXIT_OK else "deploy-failed"
        _step(["notify", *common, *version, "--event", event], args)
    return code


def _step(argv: list[str], args: argparse.Namespace) -> int:
    from bayat_deploy.cli import invoke

    print(f"--- bayat-deploy {' '.join(a for a in argv if a)}", file=sys.stderr)
    sys.stderr.flush()
    return invoke(argv, like=args)
