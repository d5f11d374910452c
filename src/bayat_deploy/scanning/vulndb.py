"""Where trivy keeps its vulnerability database, whether it is usable, and what to do when it is not.

The scan never downloads the database (it runs with --skip-db-update): a pipeline must be able to
say which data it judged a release with, and CI runners are often offline. So before any
vulnerability scan we look for ``<cache>/db/trivy.db`` and ``<cache>/db/metadata.json``
ourselves and, when they are missing, fail with instructions instead of letting trivy either
download silently or report "no vulnerabilities" from nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bayat_deploy.context import RunContext

SCHEMA_VERSION = 2  # the trivy-db schema this trivy generation reads (trivy-db pkg/db SchemaVersion)
STALE_AFTER_DAYS = 7  # the public database is rebuilt every 6 hours; a week old is worth a warning


def default_cache_dir(context: RunContext) -> Path:
    """trivy's own default: $TRIVY_CACHE_DIR, else the user cache directory + /trivy."""
    explicit = context.get("TRIVY_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = context.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "trivy"
    return Path(context.get("HOME") or Path.home()) / ".cache" / "trivy"


@dataclass(frozen=True)
class DatabaseStatus:
    cache_dir: Path
    problem: str | None  # None when the database is usable
    updated_at: datetime | None = None
    next_update: datetime | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None

    @property
    def db_file(self) -> Path:
        return self.cache_dir / "db" / "trivy.db"

    def age_days(self, now: datetime | None = None) -> float | None:
        if self.updated_at is None:
            return None
        return ((now or datetime.now(timezone.utc)) - self.updated_at).total_seconds() / 86400

    def warning(self) -> str | None:
        age = self.age_days()
        if age is not None and age > STALE_AFTER_DAYS:
            return (f"the vulnerability database was built {age:.0f} days ago ({self.updated_at:%Y-%m-%d}); "
                    f"refresh it so new advisories count")
        return None

    def as_dict(self) -> dict:
        status = "ok" if self.usable else "missing" if not self.db_file.is_file() else "unusable"
        return {"cache_dir": str(self.cache_dir), "status": status,
                "problem": self.problem,
                "updated_at": self.updated_at.isoformat() if self.updated_at else None,
                "next_update": self.next_update.isoformat() if self.next_update else None}


def inspect(cache_dir: Path) -> DatabaseStatus:
    db_dir = cache_dir / "db"
    db_file, metadata_file = db_dir / "trivy.db", db_dir / "metadata.json"
    if not db_file.is_file() or db_file.stat().st_size == 0:
        return DatabaseStatus(cache_dir, f"no vulnerability database at {db_file}")
    if not metadata_file.is_file():
        return DatabaseStatus(cache_dir, f"{metadata_file} is missing (it comes with the database)")
    try:
        metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return DatabaseStatus(cache_dir, f"{metadata_file} is unreadable: {exc}")
    if not isinstance(metadata, dict):
        return DatabaseStatus(cache_dir, f"{metadata_file} is not a JSON object")
    version = metadata.get("Version")
    if version != SCHEMA_VERSION:
        return DatabaseStatus(cache_dir, f"{db_file} has schema version {version!r}; "
                                         f"this trivy reads version {SCHEMA_VERSION} (the trivy-db:{SCHEMA_VERSION} image)")
    return DatabaseStatus(cache_dir, None, _time(metadata.get("UpdatedAt")), _time(metadata.get("NextUpdate")))


def instructions(cache_dir: Path) -> str:
    """How to provide the database, in the words a person on an offline runner needs."""
    return f"""\
Vulnerability scanning needs trivy's database, and this stage never downloads it. Provide it, then scan again:
  1. On a machine with internet access:
       trivy image --download-db-only --cache-dir ./trivy-cache
     then copy ./trivy-cache/db/ (trivy.db and metadata.json) to {cache_dir / 'db'}/ on this machine
     (in CI: restore it from a cache or artifact before this step).
  2. From an internal OCI mirror of the database:
       trivy image --download-db-only --db-repository <registry>/aquasec/trivy-db:2 --cache-dir {cache_dir}
  3. Use a directory that already holds it:
       bayat-deploy scan --cache-dir DIR    (or set TRIVY_CACHE_DIR)
Secret and misconfiguration scanning need no database: they ran, and their findings are in this report."""


def _time(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
