"""What a repository contains, as far as deploying it is concerned: the facts `init` writes a policy from."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bayat_deploy.generate.sam import SamApp

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
    terraform_modules: list[Path] = field(default_factory=list)  # reusable modules, published, never applied
    sam_template: Path | None = None
    serverless_file: Path | None = None
    sam: "SamApp | None" = None  # what the SAM template declares
    tests: "TestCommand | None" = None  # the test runner the repository uses
    tag_prefix: str | None = None  # of the release tags already there (None: no release tags)
    default_branch: str = "main"
    port: int | None = None  # the first EXPOSE of the main Dockerfile
    evidence: list[str] = field(default_factory=list)

    @property
    def is_application(self) -> bool:
        """A repository with a container build deploys a service; without one it publishes a library."""
        return bool(self.dockerfiles)

    @property
    def publishes_packages(self) -> bool:
        """Its pyproject / package.json is a package to publish: no image, and not a Serverless or SAM app (whose
        package files hold the handlers' dependencies)."""
        return not (self.is_application or self.serverless_file or self.sam_template)

    @property
    def is_library(self) -> bool:
        """Nothing here deploys (no image, no serverless app, no Terraform that is applied): the repository
        publishes packages, charts or modules."""
        applied = [d for d in self.terraform_dirs if d not in self.terraform_modules]
        return not (self.dockerfiles or self.sam_template or self.serverless_file or applied)


@dataclass(frozen=True)
class TestCommand:
    run: str
    junit: str | None
    because: str  # the file that shows this runner is the repository's


# Dockerfile variants that are not what production runs
_NOT_FOR_RELEASE = re.compile(r"(^|[._-])(dev|development|local|test|ci|debug)([._-]|$)", re.I)
RELEASE_VARIANT = re.compile(r"(^|[._-])(prod|production|release)([._-]|$)", re.I)
_SEMVER_TAG = re.compile(r"^(?P<prefix>.*?)(?P<version>(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:[-+][0-9A-Za-z.+-]+)?)$")


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
        if _is_dockerfile(name):
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
    found.dockerfiles = _release_dockerfiles(found.dockerfiles)
    found.terraform_dirs.sort(key=lambda p: (len(p.parts), str(p)))
    package: dict = {}
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
        package = package if isinstance(package, dict) else {}
        found.npm_name = package.get("name")
        found.npm_private = bool(package.get("private"))
        test_script = (package.get("scripts") or {}).get("test", "")
        found.npm_test = bool(test_script) and "no test specified" not in test_script
    found.terraform_modules = [d for d in found.terraform_dirs if d.parts[:1] == ("modules",)
                               or is_terraform_module(root / d)]
    if found.sam_template is not None:
        from bayat_deploy.generate.sam import read_sam

        found.sam = read_sam(root, found.sam_template)
    found.tests = test_command(root, found)
    if found.dockerfiles:
        found.port = exposed_port(_read(root / found.dockerfiles[0]))
    found.tag_prefix, found.default_branch = _git_facts(root)
    return found


def is_terraform_module(folder: Path) -> bool:
    """A module is configured by its caller: it declares variables and has no backend and no provider
    configuration of its own (a root configuration that is applied has both)."""
    text = "\n".join(_read(path) for path in sorted(folder.glob("*.tf")))
    configured = re.search(r'^\s*backend\s+"', text, re.M) or re.search(r'^\s*provider\s+"[\w-]+"\s*\{', text, re.M)
    return bool(re.search(r'^\s*variable\s+"', text, re.M)) and not configured


def _is_dockerfile(name: str) -> bool:
    return name == "Dockerfile" or name.endswith(".Dockerfile") or name.startswith("Dockerfile.")


def _release_dockerfiles(paths: list[Path]) -> list[Path]:
    """One Dockerfile per build context, the one production runs: `Dockerfile.prod` over `Dockerfile`, and
    never a development or CI variant (`Dockerfile.dev`, `ci.Dockerfile`) when the folder has another."""
    chosen = []
    for folder in dict.fromkeys(p.parent for p in paths):
        here = [p for p in paths if p.parent == folder]
        keep = [p for p in here if not _NOT_FOR_RELEASE.search(_variant(p))] or here
        if any(RELEASE_VARIANT.search(_variant(p)) for p in keep):
            keep = [p for p in keep if p.name != "Dockerfile"]
        chosen += keep
    return sorted(chosen, key=lambda p: (len(p.parts), str(p)))


def _variant(dockerfile: Path) -> str:
    """What tells a Dockerfile from its folder's others: `.prod` of Dockerfile.prod, `api.` of api.Dockerfile."""
    return dockerfile.name.replace("Dockerfile", "")


def exposed_port(dockerfile: str) -> int | None:
    """The first port a Dockerfile's last stage EXPOSEs (`EXPOSE 3000/tcp`); None for none or a variable."""
    stages = re.split(r"(?im)^\s*FROM\s", dockerfile)
    for line in stages[-1].splitlines():
        match = re.match(r"\s*EXPOSE\s+(\d+)(?:/(?:tcp|udp))?\b", line, re.I)
        if match and 0 < int(match.group(1)) < 65536:
            return int(match.group(1))
    return None


def _git_facts(root: Path) -> tuple[str | None, str]:
    """The prefix of the release tags already pushed, and the default branch."""
    from bayat_deploy.git import Git

    git = Git(root)
    if not git.is_repository():
        return None, "main"
    prefixes = [m.group("prefix") for m in map(_SEMVER_TAG.match, git.tags(merged=False)) if m]
    prefix = max(set(prefixes), key=prefixes.count) if prefixes else None
    remote_head = git.run("symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD", check=False)
    if remote_head.startswith("origin/"):
        return prefix, remote_head.split("/", 1)[1]
    local = set(git.run("branch", "--format=%(refname:short)", check=False).splitlines())
    for name in ("main", "master", "trunk"):
        if name in local:
            return prefix, name
    return prefix, git.branch() or "main"


def test_command(root: Path, found: Detected) -> TestCommand | None:
    """The repository's own test runner, from its lock files and build files."""
    def has(*names: str) -> str | None:
        return next((name for name in names if (root / name).exists()), None)

    if found.npm is not None and found.npm_test:
        for lock, tool in (("pnpm-lock.yaml", "pnpm test"), ("yarn.lock", "yarn test"), ("bun.lockb", "bun run test"),
                           ("bun.lock", "bun run test")):
            if has(lock):
                return TestCommand(tool, None, lock)
        return TestCommand("npm test", None, str(found.npm))
    if found.python is not None and found.python_tests:
        junit = "reports/junit-unit.xml"
        pytest = f"pytest -q --junitxml={junit}"
        if has("tox.ini"):
            return TestCommand("tox", None, "tox.ini")
        if has("uv.lock"):
            return TestCommand(f"uv run {pytest}", junit, "uv.lock")
        if has("poetry.lock") or "[tool.poetry" in _read(root / found.python):
            return TestCommand(f"poetry run {pytest}", junit, "poetry.lock" if has("poetry.lock") else str(found.python))
        return TestCommand(f"python -m {pytest}", junit, str(found.python))
    if has("go.mod"):
        return TestCommand("go test ./...", None, "go.mod")
    if has("pom.xml"):
        maven = "./mvnw" if has("mvnw") else "mvn"
        return TestCommand(f"{maven} --batch-mode test", "target/surefire-reports/*.xml", "pom.xml")
    gradle_file = has("build.gradle", "build.gradle.kts")
    if gradle_file:
        gradle = "./gradlew" if has("gradlew") else "gradle"
        return TestCommand(f"{gradle} test", "build/test-results/test/*.xml", gradle_file)
    makefile = has("Makefile", "makefile", "GNUmakefile")
    if makefile and re.search(r"(?m)^test\s*:", _read(root / makefile)):
        return TestCommand("make test", None, makefile)
    return None
