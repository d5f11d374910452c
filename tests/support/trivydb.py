"""A tiny but real trivy vulnerability database (schema v2), written for tests.

The public database (ghcr.io/aquasecurity/trivy-db) cannot be downloaded here: the machine has no
internet. This module writes a database in the very same format, so the real trivy reads it and
reports real matches, with a handful of made-up advisories (the `CVE-2099-*` identifiers do not
exist) for packages the tests plant.

Layout of the database, as trivy-db builds it (learnt from github.com/aquasecurity/trivy-db):

* ``<cache>/db/trivy.db`` - a bbolt file with top-level buckets
  * ``"<ecosystem>::<data source>"`` for language packages, e.g. ``pip::GitHub Security Advisory pip``,
    holding one nested bucket per (normalised) package name, holding ``{vuln id: advisory JSON}``;
    the advisory is ``{"VulnerableVersions": [...], "PatchedVersions": [...]}``;
  * ``"<os> <release>"`` for distributions, e.g. ``debian 12``, holding one bucket per *source*
    package with ``{vuln id: {"FixedVersion": "..."}}``;
  * ``vulnerability`` - ``{vuln id: {"Title", "Description", "Severity", "VendorSeverity", ...}}``;
  * ``data-source`` - ``{root bucket name: {"ID", "Name", "URL"}}``, which names the source of
    each advisory bucket.
* ``<cache>/db/metadata.json`` - ``{"Version": 2, "NextUpdate", "UpdatedAt", "DownloadedAt"}``.

PyPI ``boltdb`` writes the bbolt pages. Two things it leaves for us (see `_seal`): bbolt refuses a
meta page whose FNV-1a checksum is missing, and boltdb's freelist page is written at the wrong
offsets; the file is written in a single transaction, so an empty freelist is exact enough.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

import pytest

SCHEMA_VERSION = 2
SEVERITY_NUMBERS = {"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}

PIP_BUCKET = "pip::GitHub Security Advisory pip"
DEBIAN_12_BUCKET = "debian 12"
DATA_SOURCES = {
    PIP_BUCKET: {"ID": "ghsa", "Name": "GitHub Security Advisory pip",
                 "URL": "https://github.com/advisories?query=type%3Areviewed+ecosystem%3Apip"},
    DEBIAN_12_BUCKET: {"ID": "debian", "Name": "Debian Security Tracker",
                       "URL": "https://salsa.debian.org/security-tracker-team/security-tracker"},
}


@dataclass(frozen=True)
class Advisory:
    """One made-up advisory for one package of one ecosystem bucket."""

    id: str
    bucket: str
    package: str
    severity: str
    title: str
    vulnerable: tuple[str, ...] = ()  # language packages: version ranges, e.g. "<2.20.0"
    patched: tuple[str, ...] = ()
    fixed_version: str | None = None  # OS packages: the first fixed Debian version
    references: tuple[str, ...] = field(default=())

    def advisory_json(self) -> dict:
        if self.fixed_version is not None:
            return {"FixedVersion": self.fixed_version}
        return {"VulnerableVersions": list(self.vulnerable), "PatchedVersions": list(self.patched)}

    def vulnerability_json(self) -> dict:
        source = DATA_SOURCES[self.bucket]["ID"]
        return {"Title": self.title, "Description": f"{self.title} (a made-up advisory of the test database).",
                "Severity": self.severity, "VendorSeverity": {source: SEVERITY_NUMBERS[self.severity]},
                "References": list(self.references)}


# The advisories the scan tests rely on. Epoch 99 in a Debian fixed version is above any real version,
# so the base image's bash is always "vulnerable", whatever Debian point release it was built from.
DEFAULT_ADVISORIES: tuple[Advisory, ...] = (
    Advisory("CVE-2099-0001", PIP_BUCKET, "requests", "HIGH",
             "requests: credentials leak on cross-scheme redirect (test advisory)",
             vulnerable=("<2.20.0",), patched=("2.20.0",), references=("https://example.com/CVE-2099-0001",)),
    Advisory("CVE-2099-0002", PIP_BUCKET, "pyyaml", "CRITICAL",
             "PyYAML: arbitrary code execution in full_load (test advisory)",
             vulnerable=("<5.4",), patched=("5.4",)),
    Advisory("CVE-2099-0003", PIP_BUCKET, "jinja2", "MEDIUM",
             "Jinja2: regular expression denial of service (test advisory)",
             vulnerable=("<2.11.3",), patched=("2.11.3",)),
    Advisory("CVE-2099-0101", DEBIAN_12_BUCKET, "bash", "HIGH",
             "bash: made-up flaw for the container scanning tests (test advisory)",
             fixed_version="99:1.0-1"),
)


def build_trivy_db(cache_dir: Path, advisories: Iterable[Advisory] = DEFAULT_ADVISORIES, *,
                   updated_at: datetime | None = None) -> Path:
    """Write ``<cache_dir>/db/trivy.db`` and ``metadata.json``; return the ``db`` directory."""
    from boltdb import BoltDB

    advisories = tuple(advisories)
    db_dir = cache_dir / "db"
    db_dir.mkdir(parents=True, exist_ok=True)
    path = db_dir / "trivy.db"
    path.unlink(missing_ok=True)

    # bbolt keeps keys sorted in every page; boltdb inserts in order, so sorting here is only for clarity
    by_bucket: dict[str, dict[str, dict[str, dict]]] = {}
    for item in advisories:
        by_bucket.setdefault(item.bucket, {}).setdefault(item.package, {})[item.id] = item.advisory_json()
    db = BoltDB(str(path))
    try:
        with db.update() as tx:
            sources = tx.create_bucket(b"data-source")
            for name in sorted(by_bucket):
                sources.put(name.encode(), _json(DATA_SOURCES[name]))
            for name in sorted(by_bucket):
                root = tx.create_bucket(name.encode())
                for package in sorted(by_bucket[name]):
                    bucket = root.create_bucket(package.encode())
                    for vuln_id, value in sorted(by_bucket[name][package].items()):
                        bucket.put(vuln_id.encode(), _json(value))
            details = tx.create_bucket(b"vulnerability")
            for item in sorted(advisories, key=lambda a: a.id):
                details.put(item.id.encode(), _json(item.vulnerability_json()))
    finally:
        db.close()
        db.close = lambda: None  # boltdb's __del__ closes again; once is enough
    _seal(path)

    now = (updated_at or datetime.now(timezone.utc)).replace(microsecond=0)
    stamp = lambda moment: moment.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    (db_dir / "metadata.json").write_text(json.dumps({
        "Version": SCHEMA_VERSION, "NextUpdate": stamp(now + timedelta(hours=24)),
        "UpdatedAt": stamp(now), "DownloadedAt": stamp(now)}) + "\n")
    return db_dir


@pytest.fixture(scope="session")
def trivy_cache(tmp_path_factory) -> Path:
    """A trivy cache directory holding the tiny database; shared by the session (import it into a module)."""
    cache = tmp_path_factory.mktemp("trivy-cache")
    build_trivy_db(cache)
    return cache


def _json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


PAGE_HEADER = struct.Struct("<QHHI")  # page id, flags, count, overflow
META = struct.Struct("<IIIIQQQQQQ")  # magic, version, page size, flags, root, sequence, freelist, pgid, txid, checksum
CHECKSUMMED = 56  # bytes of the meta struct before its checksum field
FREELIST_PAGE_FLAG = 0x10


def _seal(path: Path) -> None:
    """Give both meta pages bbolt's checksum and make the freelist page a valid empty one."""
    data = bytearray(path.read_bytes())
    page_size = META.unpack_from(data, PAGE_HEADER.size)[2]
    freelist_page = None
    for page in (0, 1):
        offset = page * page_size + PAGE_HEADER.size
        fields = list(META.unpack_from(data, offset))
        freelist_page = fields[6]
        fields[9] = _fnv1a64(bytes(data[offset:offset + CHECKSUMMED]))
        META.pack_into(data, offset, *fields)
    PAGE_HEADER.pack_into(data, freelist_page * page_size, freelist_page, FREELIST_PAGE_FLAG, 0, 0)
    path.write_bytes(bytes(data))


def _fnv1a64(data: bytes) -> int:
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value
