"""The ignore file: trivy's YAML ignore format, with our rule that every ignore is justified and temporary.

```yaml
vulnerabilities:            # also: misconfigurations, secrets, licenses, and sast (bandit test ids)
  - id: CVE-2023-3817
    paths: ["requirements.txt"]        # optional globs; purls: [...] for packages
    statement: Not reachable: we never parse untrusted X.509 input    # required: why it is acceptable
    expired_at: 2026-03-31                                           # required: when to look again
```

An entry stops counting on its `expired_at` date (trivy's meaning): the finding blocks again and
the report says which ignore expired when. We apply the entries ourselves instead of handing the
file to trivy, so ignored findings stay in the evidence with their reason.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from bayat_deploy.errors import BadInput, Diagnostic, PolicyError
from bayat_deploy.policy import yamlpos
from bayat_deploy.scanning.findings import ScanFinding

SECTIONS = {"vulnerabilities": "vulnerability", "misconfigurations": "misconfiguration", "secrets": "secret",
            "licenses": "license", "sast": "sast"}
FIELDS = ("id", "paths", "purls", "statement", "expired_at")


class IgnoreFileError(BadInput):
    """Raised when the ignore file does not parse or an entry lacks its reason, expiry or id."""

    def __init__(self, file: str, diagnostics: list[Diagnostic]):
        self.file = file
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.line, d.column, d.path))
        super().__init__(f"{len(self.diagnostics)} error(s) in the ignore file {file}")

    def lines(self) -> list[str]:
        return [d.format() for d in self.diagnostics] + [str(self)]


@dataclass(frozen=True)
class IgnoreEntry:
    section: str
    id: str
    statement: str
    expires: date
    file: str
    line: int
    paths: tuple[str, ...] = ()
    purls: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def expired(self, today: date) -> bool:
        return today >= self.expires

    def matches(self, finding: ScanFinding) -> bool:
        if SECTIONS[self.section] != finding.category or not _same_id(self.section, self.id, finding.id):
            return False
        if self.paths:
            path = finding.file or finding.package_path or ""
            if not any(path == pattern or fnmatch.fnmatchcase(path, pattern) for pattern in self.paths):
                return False
        if self.purls:
            if not finding.purl or not any(_same_package(pattern, finding.purl) for pattern in self.purls):
                return False
        return True

    def as_dict(self, today: date) -> dict:
        return {"section": self.section, "id": self.id, "statement": self.statement,
                "expired_at": self.expires.isoformat(), "expired": self.expired(today), "where": self.where,
                "paths": list(self.paths), "purls": list(self.purls)}


@dataclass(frozen=True)
class IgnoreFile:
    path: str | None  # as shown to people; None when the repository has no ignore file
    entries: tuple[IgnoreEntry, ...] = ()

    def match(self, finding: ScanFinding, today: date) -> IgnoreEntry | None:
        """The first entry in force for the finding, else an expired one (so the report can say so)."""
        matching = [entry for entry in self.entries if entry.matches(finding)]
        active = [entry for entry in matching if not entry.expired(today)]
        return (active or matching or [None])[0]


def load(root: Path, relative: str) -> IgnoreFile:
    path = root / relative
    if not path.exists():
        return IgnoreFile(None)
    try:
        tree = yamlpos.load_file(path, display=relative)
    except PolicyError as exc:  # YAML syntax: same positions, named for this file
        raise IgnoreFileError(relative, exc.diagnostics) from None
    if tree is None:
        return IgnoreFile(relative)
    errors: list[Diagnostic] = []
    entries: list[IgnoreEntry] = []
    if not isinstance(tree, yamlpos.Mapping):
        errors.append(tree.mark.diagnostic(f"expected a mapping with the lists {', '.join(SECTIONS)}"))
    else:
        for section, (key_mark, node) in tree.entries.items():
            if section not in SECTIONS:
                hint = difflib.get_close_matches(section, SECTIONS, n=1)
                errors.append(key_mark.diagnostic(f"unknown section {section!r}; use one of {', '.join(SECTIONS)}"
                                                  + (f" (did you mean {hint[0]!r}?)" if hint else "")))
                continue
            if isinstance(node, yamlpos.Scalar) and node.value is None:
                continue
            if not isinstance(node, yamlpos.Sequence):
                errors.append(node.mark.diagnostic("expected a list of ignore entries"))
                continue
            for item in node.items:
                entry = _entry(section, item, relative, errors)
                if entry is not None:
                    entries.append(entry)
    if errors:
        raise IgnoreFileError(relative, errors)
    return IgnoreFile(relative, tuple(entries))


def _entry(section: str, node: yamlpos.Node, file: str, errors: list[Diagnostic]) -> IgnoreEntry | None:
    if not isinstance(node, yamlpos.Mapping):
        errors.append(node.mark.diagnostic("expected an entry with id, statement and expired_at"))
        return None
    before = len(errors)
    for key, (key_mark, _) in node.entries.items():
        if key not in FIELDS:
            hint = difflib.get_close_matches(key, FIELDS, n=1)
            errors.append(key_mark.diagnostic(f"unknown field {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint
                                                                          else f"; use {', '.join(FIELDS)}")))
    identifier = _text(node, "id", errors, "every ignore names the finding it ignores: add id: <finding id>")
    statement = _text(node, "statement", errors,
                      "every ignore needs a reason: add statement: <why this finding is acceptable>")
    expires = _expiry(node, errors)
    paths, purls = _strings(node, "paths", errors), _strings(node, "purls", errors)
    if len(errors) > before or identifier is None or statement is None or expires is None:
        return None
    return IgnoreEntry(section, identifier, statement, expires, file, node.mark.line, paths, purls)


def _text(node: yamlpos.Mapping, key: str, errors: list[Diagnostic], missing: str) -> str | None:
    value = node.get(key)
    if value is None:
        errors.append(node.mark.child(key).diagnostic(missing))
        return None
    if not isinstance(value, yamlpos.Scalar) or value.value is None or not str(value.value).strip():
        errors.append(value.mark.diagnostic(f"{missing.split(':')[0]}; it must be non-empty text"))
        return None
    return str(value.value).strip()


def _expiry(node: yamlpos.Mapping, errors: list[Diagnostic]) -> date | None:
    value = node.get("expired_at")
    if value is None:
        errors.append(node.mark.child("expired_at").diagnostic(
            "every ignore needs an expiry date: add expired_at: YYYY-MM-DD (when to look at it again)"))
        return None
    raw = value.value if isinstance(value, yamlpos.Scalar) else None
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and re.match(r"^\d{4}-\d{2}-\d{2}", raw.strip()):
        try:
            return datetime.fromisoformat(raw.strip().replace("Z", "+00:00")).date()
        except ValueError:
            pass
    errors.append(value.mark.diagnostic(f"expected a date YYYY-MM-DD, got {raw!r}"))
    return None


def _strings(node: yamlpos.Mapping, key: str, errors: list[Diagnostic]) -> tuple[str, ...]:
    value = node.get(key)
    if value is None:
        return ()
    if not isinstance(value, yamlpos.Sequence) or not all(
            isinstance(item, yamlpos.Scalar) and isinstance(item.value, str) and item.value for item in value.items):
        errors.append(value.mark.diagnostic(f"expected a list of {'glob patterns' if key == 'paths' else 'purls'}"))
        return ()
    return tuple(item.value for item in value.items)


def _same_id(section: str, wanted: str, found: str) -> bool:
    if section == "misconfigurations":
        return check_key(wanted) == check_key(found)
    if section == "secrets":
        return wanted == found
    return wanted.upper() == found.upper()


def check_key(identifier: str) -> tuple[str, int] | str:
    """AVD-DS-0002, DS-0002 and DS002 all name the same trivy check."""
    match = re.fullmatch(r"(?:AVD-)?([A-Za-z]+)-?0*(\d+)", identifier.strip())
    return (match.group(1).upper(), int(match.group(2))) if match else identifier.strip().upper()


def _same_package(pattern: str, purl: str) -> bool:
    """A purl without a version (pkg:pypi/requests) matches every version of that package."""
    wanted, found = pattern.split("?")[0].lower(), purl.split("?")[0].lower()
    return wanted == found if "@" in wanted else found.split("@")[0] == wanted
