"""The version file shipped with every release, so each environment can tell what it runs (standard:
Version Tracking). The example service serves it at /version; its Dockerfile copies `version.json` from
the build context."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from bayat_deploy.fsutil import write_atomic
from bayat_deploy.git import Git
from bayat_deploy.versioning import versions


def version_info(session, version: str) -> dict:
    """version, git_sha, build_time (ISO 8601, UTC), pipeline_url, triggered_by, ref."""
    context = session.context
    checked = str(versions.parse_input(version))
    return {
        "version": checked,
        "git_sha": context.sha or Git(session.root).head(),
        "build_time": datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "pipeline_url": context.pipeline_url,
        "triggered_by": context.actor,
        "ref": context.ref_name,
    }


def default_path(session) -> Path:
    return session.root / session.policy.versioning.version_file


def write_version_file(session, version: str, path: Path | None = None) -> Path:
    """Write the version file (JSON, atomically); default: the policy's `versioning.version_file` in the repo."""
    target = Path(path) if path is not None else default_path(session)
    write_atomic(target, json.dumps(version_info(session, version), indent=2) + "\n")
    return target
