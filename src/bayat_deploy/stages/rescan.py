"""`bayat-deploy rescan --env ENV`: scan the image that serves an environment again, with today's vulnerability
database, and roll back when it holds a vulnerability at or above the environment's
`rollback.triggers.vulnerability` (standard: Rollback Triggers, "a security vulnerability is discovered").

The scan at build time saw yesterday's advisories; a release keeps serving long after. Run this on a schedule
(the generated pipelines' hourly one) or by hand. The image is the one the deployment record says serves,
by digest where the record has one, so a moved tag cannot hide what runs. Ignores (`scan.ignore_file`, each
with a reason and an expiry) apply as in the scan stage.

Exit 0: nothing at the trigger's severity (or the trigger is off); 1: found (rolled back when
`rollback.automatic`), or the image or the database could not be scanned (never a silent pass).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bayat_deploy import argtypes
from bayat_deploy.stages.deploy import add_environment

TRAFFIC = ("deploy", "promote", "rollback")


def configure(parser: argparse.ArgumentParser) -> None:
    add_environment(parser)
    parser.add_argument("--cache-dir", type=argtypes.path, metavar="DIR",
                        help="trivy's cache directory holding the vulnerability database in DIR/db/ "
                             "(default: $TRIVY_CACHE_DIR, else ~/.cache/trivy)")
    parser.add_argument("--no-rollback", action="store_true",
                        help="report what the trigger would do, change nothing")
    parser.set_defaults(handler=run)


def serving_image(session, environment: str) -> tuple[str, str]:
    """(version, image reference) the record says serve the environment now."""
    from bayat_deploy.deploy.record import Record
    from bayat_deploy.deploy.state import open_store
    from bayat_deploy.errors import BadInput

    entries = Record(open_store(session, environment)).attempts()
    current = next((e for e in reversed(entries) if e.action in TRAFFIC and e.outcome == "succeeded"), None)
    if current is None or not current.image:
        raise BadInput(f"no release serves {environment} according to its deployment record: nothing to rescan")
    return current.version, pinned(current.image, current.digest)


def pinned(image: str, digest: str) -> str:
    """The image by digest when it lives in a registry; a local image's digest is the engine's image id."""
    if "@" in image or not digest.startswith("sha256:"):
        return image
    name = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    registry = name.split("/")[0]
    if "/" in name and ("." in registry or ":" in registry or registry == "localhost"):
        return f"{name}@{digest}"
    return image


def run(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from bayat_deploy.scanning import gate, ignores, trivy, vulndb
    from bayat_deploy.session import open_session
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    env = session.policy.environment(args.environment)
    trigger = env.rollback.triggers.vulnerability
    stage = StageRun(session, "rescan", environment=args.environment)
    if trigger is None:
        return stage.finish(True, f"the vulnerability trigger is off for {args.environment} "
                                  "(rollback.triggers.vulnerability)")
    version, image = serving_image(session, args.environment)
    stage.version = version
    stage.inputs.update(image=image, trigger=trigger.name)
    cache_dir = args.cache_dir or vulndb.default_cache_dir(session.context)
    if not cache_dir.is_absolute():
        cache_dir = Path.cwd() / cache_dir
    database = vulndb.inspect(cache_dir)
    stage.details["vulnerability_db"] = database.as_dict()
    if not database.usable:
        return stage.finish(False, f"no usable vulnerability database ({database.problem}): {image} was NOT "
                                   "rescanned")
    try:
        report = trivy.scan_image(image, ["vuln"], cache_dir, session.context.tool_env(), session.root)
    except trivy.TrivyFailed as exc:
        return stage.finish(False, str(exc))
    today = datetime.now(timezone.utc).date()
    gate.apply(report.findings, trigger.name, ignores.load(session.root, session.policy.scan.ignore_file), today)
    found = [f for f in report.findings if f.blocking and not f.ignored]
    for finding in found:
        stage.finding(id=finding.id, severity=finding.severity, tool="trivy", blocking=True,
                      title=f"{finding.id} ({finding.severity}) in {finding.package} {finding.installed_version}",
                      detail=finding.title)
    stage.summary.update(image=image, version=version, found=len(found), trigger=trigger.name)
    if not found:
        return stage.finish(True, f"{image} ({version}) holds no vulnerability at {trigger.name} or above")
    reason = (f"vulnerability trigger: {', '.join(sorted({f.id for f in found}))} at {trigger.name} or above "
              f"in {version} ({image})")
    if env.rollback.automatic and not args.no_rollback:
        reason += _roll_back(session, args.environment, reason, stage)
    return stage.finish(False, reason)


def _roll_back(session, environment: str, reason: str, stage) -> str:
    from bayat_deploy.deploy.engine import Deployment
    from bayat_deploy.deploy.rollback import rollback

    try:
        result = rollback(Deployment(session, environment), reason=reason, automatic=True)
    except Exception as exc:  # the finding stands; the rollback problem is reported with it
        return f"; automatic rollback failed: {exc}"
    stage.details["rollback"] = {"to": result.entry.version, "seconds_to_traffic": result.seconds_to_traffic,
                                 "incident": str(result.incident)}
    return f"; rolled back to {result.entry.version} in {result.seconds_to_traffic:.2f}s"
