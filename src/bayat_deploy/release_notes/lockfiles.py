"""Dependencies section: what the lock files say changed between two revisions.

Read formats: pip `requirements*.txt`, `poetry.lock`, `uv.lock`, npm `package-lock.json` (lockfile
version 2 and 3, and the older nested version 1), and `Pipfile.lock`. Each becomes {package: version};
comparing the two sides gives added, removed and changed packages.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

LOCK_FILE_PATTERNS = ("requirements*.txt", "poetry.lock", "uv.lock", "package-lock.json", "Pipfile.lock")
SKIPPED_DIRECTORIES = ("node_modules", ".venv", "venv", ".git", ".tox")


@dataclass(frozen=True)
class DependencyChange:
    file: str
    change: str  # added | removed | changed
    name: str
    before: str | None = None
    after: str | None = None

    def to_json(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if self.change == "added":
            return f"{self.name}@{self.after}"
        if self.change == "removed":
            return f"{self.name}@{self.before}"
        return f"{self.name} {self.before} -> {self.after}"


def is_lock_file(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return (not any(part in SKIPPED_DIRECTORIES for part in parts[:-1])
            and any(fnmatchcase(parts[-1], pattern) for pattern in LOCK_FILE_PATTERNS))


def normalise(name: str) -> str:
    """Python package names compare as PEP 503 says (`Foo_Bar` is `foo-bar`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock_file(path: str, text: str) -> dict[str, str]:
    """{package: version} from a lock file's text; ValueError when it cannot be read."""
    name = PurePosixPath(path).name
    if name == "package-lock.json":
        return parse_package_lock(text)
    if name == "Pipfile.lock":
        return parse_pipfile_lock(text)
    if name in ("poetry.lock", "uv.lock"):
        return parse_toml_packages(text)
    return parse_requirements(text)


_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<spec>[^;#]*)")


def parse_requirements(text: str) -> dict[str, str]:
    """Pinned (`name==1.2`) and unpinned (`name>=1`: the specifier is the "version") requirements."""
    packages: dict[str, str] = {}
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")) or "://" in line:
            continue  # comments, pip options (-r, -e, --hash), direct URLs
        match = _REQUIREMENT.match(line)
        if not match:
            continue
        spec = re.sub(r"\s+--hash=\S+", "", match["spec"]).strip()
        pinned = re.fullmatch(r"===?\s*(\S+)", spec)
        packages[normalise(match["name"])] = pinned.group(1) if pinned else (spec.replace(" ", "") or "*")
    return packages


def parse_package_lock(text: str) -> dict[str, str]:
    data = _json(text)
    found: dict[str, set[str]] = {}
    if isinstance(data.get("packages"), dict):  # lockfileVersion 2 and 3
        for path, entry in data["packages"].items():
            if "node_modules/" not in path or not isinstance(entry, dict) or "version" not in entry:
                continue  # "" is the project, other paths its workspaces, links (no version) point at them
            name = entry.get("name") or path.rsplit("node_modules/", 1)[-1]
            found.setdefault(name, set()).add(str(entry["version"]))
    else:  # lockfileVersion 1: nested "dependencies"
        def walk(dependencies: dict) -> None:
            for name, entry in dependencies.items():
                if isinstance(entry, dict) and "version" in entry:
                    found.setdefault(name, set()).add(str(entry["version"]))
                    walk(entry.get("dependencies") or {})
        walk(data.get("dependencies") or {})
    # npm may install one package in several versions (nested node_modules).
    return {name: ", ".join(sorted(versions)) for name, versions in found.items()}


def parse_pipfile_lock(text: str) -> dict[str, str]:
    data = _json(text)
    packages = {}
    for group in ("default", "develop"):
        for name, entry in (data.get(group) or {}).items():
            version = entry.get("version", "*") if isinstance(entry, dict) else "*"
            packages[normalise(name)] = str(version).removeprefix("===").removeprefix("==")
    return packages


def parse_toml_packages(text: str) -> dict[str, str]:
    """`[[package]]` tables with `name` and `version` (poetry.lock, uv.lock)."""
    try:
        import tomllib
    except ImportError:  # Python 3.10: the generated files are regular enough to read line by line
        return _toml_packages_by_line(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not valid TOML: {exc}") from None
    return {normalise(p["name"]): str(p.get("version", "*")) for p in data.get("package", [])
            if isinstance(p, dict) and "name" in p}


def _toml_packages_by_line(text: str) -> dict[str, str]:
    packages, current, inside = {}, {}, False
    for line in text.splitlines() + ["[end]"]:
        if line.startswith("["):
            if inside and "name" in current:
                packages[normalise(current["name"])] = current.get("version", "*")
            inside, current = line.strip() == "[[package]]", {}
        elif inside and (match := re.match(r'^(name|version)\s*=\s*"([^"]*)"', line)):
            current.setdefault(match.group(1), match.group(2))
    return packages


def _json(text: str) -> dict:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def diff_packages(file: str, before: dict[str, str], after: dict[str, str]) -> list[DependencyChange]:
    changes = [DependencyChange(file, "added", name, after=after[name])
               for name in sorted(after.keys() - before.keys())]
    changes += [DependencyChange(file, "removed", name, before=before[name])
                for name in sorted(before.keys() - after.keys())]
    changes += [DependencyChange(file, "changed", name, before[name], after[name])
                for name in sorted(before.keys() & after.keys()) if before[name] != after[name]]
    return changes


@dataclass
class DependencyReport:
    changes: list[DependencyChange]
    files: list[str]  # lock files found at either revision
    problems: list[str]  # lock files that could not be read


def dependency_changes(revisions, since: str | None, until: str = "HEAD") -> DependencyReport:
    """Compare every lock file between `since` (None: nothing, so all is added) and `until`.

    `revisions` reads the repository: `.files(rev)` lists paths, `.read(rev, path)` gives text or None.
    """
    paths = sorted({p for rev in (since, until) if rev for p in revisions.files(rev) if is_lock_file(p)})
    report = DependencyReport([], paths, [])
    for path in paths:
        sides = []
        for rev in (since, until):
            text = revisions.read(rev, path) if rev else None
            try:
                sides.append(parse_lock_file(path, text) if text is not None else {})
            except ValueError as exc:
                report.problems.append(f"{path} at {rev}: {exc}")
                break
        else:
            report.changes += diff_packages(path, *sides)
    return report
