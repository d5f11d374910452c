"""What a repository contains, as far as deploying it is concerned: the facts `init` writes a policy from."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

SKIP_DIRS = {".git", "node_modules", ".venv", "venv", ".tox", "__pycache__", ".terraform", "dist", "build",
             ".bayat", "vendor"}
MAX_DEPTH = 3


@dataclass
class Detected:
    """Facts found in a repository, each with the file that proved it (printed by `init`)."""

    project: str
    dockerfiles: list[Path] = field(default_factory=list)
    python: Path | None = None  # pyproject.toml / setup.cfg / setup.py
    python_name: str | None = None
    python_tests: bool = False
    ruff: bool = False
    npm: Path | None = None
    npm_name: str | None = None
    npm_private: bool = False
    npm_test: bool = False
    charts: list[Path] = field(default_factory=list)  # chart directories
    chart_names: dict[Path, str] = field(default_factory=dict)
    terraform_dirs: list[Path] = field(default_factory=list)
    sam_template: Path | None = None
    serverless_file: Path | None = None
    evidence: list[str] = field(default_factory=list)

    @property
    def is_application(self) -> bool:
        """A repository with a container build deploys a service; without one it publishes a library."""
        return bool(self.dockerfiles)


def slug(text: str) -> str:
    value = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return value[:63].strip("-") or "my-service"


def _walk(root: Path):
    stack = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = sorted(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir():
                if entry.name not in SKIP_DIRS and depth < MAX_DEPTH:
                    stack.append((entry, depth + 1))
            else:
                yield entry


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _python_name(pyproject: Path) -> str | None:
    text = _read(pyproject)
    try:
        import tomllib  # Python 3.11+

        return tomllib.loads(text).get("project", {}).get("name")
    except ModuleNotFoundError:  # Python 3.10: the one key we need, read plainly
        match = re.search(r'^\[project\][^\[]*?^name\s*=\s*["\']([^"\']+)', text, re.M | re.S)
        return match.group(1) if match else None
    except ValueError:
        return None


def detect(root: Path) -> Detected:
    found = Detected(project=slug(root.resolve().name))
    for path in _walk(root):
        rel = path.relative_to(root)
        name = path.name
        if name == "Dockerfile" or name.endswith(".Dockerfile"):
            found.dockerfiles.append(rel)
        elif name == "Chart.yaml":
            found.charts.append(rel.parent)
            match = re.search(r"^name:\s*['\"]?([\w.-]+)", _read(path), re.M)
            if match:
                found.chart_names[rel.parent] = match.group(1)
        elif name.endswith(".tf") and rel.parent not in found.terraform_dirs:
            found.terraform_dirs.append(rel.parent)
        elif name in ("pyproject.toml", "setup.cfg", "setup.py", "pytest.ini") and len(rel.parts) == 1:
            if found.python is None or name == "pyproject.toml":
                found.python = rel
        elif name == "package.json" and len(rel.parts) == 1:
            found.npm = rel
        elif name in ("serverless.yml", "serverless.yaml") and len(rel.parts) == 1:
            found.serverless_file = rel
        elif name in ("template.yaml", "template.yml") and "AWS::Serverless" in _read(path):
            found.sam_template = rel
    found.dockerfiles.sort(key=lambda p: (len(p.parts), str(p)))
    found.terraform_dirs.sort(key=lambda p: (len(p.parts), str(p)))
    if found.python is not None:
        text = _read(root / found.python)
        if found.python.name == "pyproject.toml":
            found.python_name = _python_name(root / found.python)
        found.python_tests = (root / "tests").is_dir() or "pytest" in text or found.python.name == "pytest.ini"
        found.ruff = "[tool.ruff" in text or (root / "ruff.toml").is_file()
    if found.npm is not None:
        try:
            package = json.loads(_read(root / found.npm))
        except ValueError:
            package = {}
        found.npm_name = package.get("name")
        found.npm_private = bool(package.get("private"))
        test_script = package.get("scripts", {}).get("test", "")
        found.npm_test = bool(test_script) and "no test specified" not in test_script
    return found
