"""Package builders: Python (python -m build), npm (npm pack), Helm (helm package), Terraform module
archives and OS packages (deb, rpm). Each writes into the dist directory and returns the new files."""

from __future__ import annotations

import gzip
import io
import re
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from bayat_deploy import tools
from bayat_deploy.building.tags import parse
from bayat_deploy.context import RunContext
from bayat_deploy.errors import BadInput, BayatError, ToolMissing

TERRAFORM_EXCLUDED_DIRS = {".terraform", ".git"}
TERRAFORM_EXCLUDED_FILES = re.compile(r"(\.tfstate(\..*)?|\.terraform\.tfstate\.lock\.info|crash\.log|\.tfplan)$")


def pep440(version: str) -> str:
    """SemVer -> the version Python packaging accepts: 1.4.0-rc.3+abc -> 1.4.0rc3+abc."""
    (major, minor, patch), pre, build = parse(version)
    text = f"{major}.{minor}.{patch}"
    if pre:
        match = re.fullmatch(r"(alpha|a|beta|b|rc|c|pre|preview)[.-]?(\d*)", pre)
        if match:
            kind = {"alpha": "a", "beta": "b", "c": "rc", "pre": "rc", "preview": "rc"}.get(match[1], match[1])
            text += f"{kind}{match[2] or 0}"
        else:
            text += ".dev0"
            build = ".".join(filter(None, [re.sub(r"[^0-9A-Za-z.]", ".", pre), build]))
    return f"{text}+{build}" if build else text


def debian_version(version: str) -> str:
    """SemVer -> a Debian upstream version where a pre-release sorts before the release: 1.4.0~rc.3+abc."""
    (major, minor, patch), pre, build = parse(version)
    text = f"{major}.{minor}.{patch}" + (f"~{pre}" if pre else "")
    return f"{text}+{build}" if build else text


def _build_staged(dist: Path, argv_for, *, cwd: Path, context: RunContext, what: str,
                  env: dict | None = None) -> list[Path]:
    """Run a packaging tool that writes into a fresh staging folder given by `argv_for(staging)`, then move
    its files into dist/ (replacing files of the same name); the new paths. A failed build leaves dist/ as
    it was."""
    dist.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=dist))
    try:
        _run(argv_for(staging), cwd=cwd, context=context, what=what, env=env)
        moved = []
        for item in sorted(staging.iterdir()):
            if item.is_file():
                target = dist / item.name
                item.replace(target)
                moved.append(target)
        return moved
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _run(argv: list[str], *, cwd: Path, context: RunContext, what: str, env: dict | None = None,
         timeout: float = 900) -> str:
    proc = tools.run(argv, cwd=cwd, env=context.tool_env(**(env or {})), timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr + proc.stdout).strip().splitlines()[-25:])
        raise BayatError(f"{what} failed (exit {proc.returncode}):\n{tail}")
    return proc.stdout


def _directory(root: Path, relative: str, what: str, marker: str | None = None) -> Path:
    path = (root / relative).resolve()
    if not path.is_dir():
        raise BadInput(f"{what}: {relative} is not a directory in {root}")
    if marker and not (path / marker).exists():
        raise BadInput(f"{what}: {relative} has no {marker}")
    return path


def build_python(root: Path, path: str, version: str, dist: Path, context: RunContext) -> list[Path]:
    source = _directory(root, path, "python-package", "pyproject.toml")
    import importlib.util

    if importlib.util.find_spec("build") is None:
        raise ToolMissing("python -m build needs the `build` package: pip install 'bayat-deploy[packages]'")
    # setuptools-scm and hatch-vcs take the version from here; a static version in pyproject wins.
    return _build_staged(dist, lambda staging: [sys.executable, "-m", "build", "--outdir", str(staging), str(source)],
                         cwd=source, context=context, what="python -m build",
                         env={"SETUPTOOLS_SCM_PRETEND_VERSION": pep440(version)})


def build_npm(root: Path, path: str, version: str, dist: Path, context: RunContext) -> list[Path]:
    source = _directory(root, path, "npm-package", "package.json")
    tools.require("npm", "install Node.js and npm")
    return _build_staged(dist, lambda staging: ["npm", "pack", "--pack-destination", str(staging)],
                         cwd=source, context=context, what="npm pack")


def build_helm(root: Path, path: str, version: str, dist: Path, context: RunContext) -> list[Path]:
    source = _directory(root, path, "helm-chart", "Chart.yaml")
    tools.require("helm", "install helm (scripts/setup puts it in .tools/bin)")
    return _build_staged(dist, lambda staging: ["helm", "package", str(source), "--version", version,
                                                "--app-version", version, "--destination", str(staging)],
                         cwd=root, context=context, what="helm package")


def build_terraform(root: Path, path: str, name: str, version: str, dist: Path) -> list[Path]:
    """A reproducible .tar.gz: sorted entries, fixed times and owners, no state or provider caches."""
    source = _directory(root, path, "terraform-module")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for item in _module_files(source):
            relative = item.relative_to(source).as_posix()
            info = tarfile.TarInfo(relative)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if item.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            else:
                data = item.read_bytes()
                info.size, info.mode = len(data), 0o755 if item.stat().st_mode & 0o111 else 0o644
                archive.addfile(info, io.BytesIO(data))
    target = dist / f"{name}-{version}.tar.gz"
    dist.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with open(partial, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
        packed.write(buffer.getvalue())
    partial.replace(target)
    return [target]


def _module_files(directory: Path) -> list[Path]:
    found = []
    for item in sorted(directory.iterdir(), key=lambda p: p.name):
        if item.is_symlink():
            continue
        if item.is_dir():
            if item.name in TERRAFORM_EXCLUDED_DIRS:
                continue
            found.append(item)
            found.extend(_module_files(item))
        elif not TERRAFORM_EXCLUDED_FILES.search(item.name):
            found.append(item)
    return found


def build_deb(root: Path, path: str, name: str, version: str, dist: Path, context: RunContext) -> list[Path]:
    source = _directory(root, path, "os-package", "DEBIAN/control")
    tools.require("dpkg-deb", "install dpkg (Debian/Ubuntu) to build .deb packages")
    with tempfile.TemporaryDirectory(prefix="bayat-deb-") as tmp:
        tree = Path(tmp) / "tree"
        shutil.copytree(source, tree, symlinks=True)
        control = tree / "DEBIAN" / "control"
        fields = control.read_text(encoding="utf-8")
        deb_version = debian_version(version)
        if re.search(r"^Version:", fields, re.M):
            fields = re.sub(r"^Version:.*$", f"Version: {deb_version}", fields, flags=re.M)
        else:
            fields = fields.rstrip("\n") + f"\nVersion: {deb_version}\n"
        control.write_text(fields if fields.endswith("\n") else fields + "\n", encoding="utf-8")
        arch = re.search(r"^Architecture:\s*(\S+)", fields, re.M)
        package = re.search(r"^Package:\s*(\S+)", fields, re.M)
        dist.mkdir(parents=True, exist_ok=True)
        target = dist / f"{package[1] if package else name}_{deb_version}_{arch[1] if arch else 'all'}.deb"
        _run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(target)], cwd=root, context=context,
             what="dpkg-deb --build")
    return [target]


def build_rpm(root: Path, path: str, name: str, version: str, dist: Path, context: RunContext) -> list[Path]:
    source = _directory(root, path, "os-package")
    if tools.find("rpmbuild") is None:
        raise ToolMissing("rpmbuild is not installed: install rpm (apt-get install rpm, or dnf install rpm-build) "
                          "to build .rpm packages, or set `format: deb`")
    specs = sorted(source.glob("*.spec"))
    if not specs:
        raise BadInput(f"os-package {name}: {path} has no .spec file for rpmbuild")
    (major, minor, patch), pre, _build = parse(version)
    rpm_version = f"{major}.{minor}.{patch}" + (f"~{pre.replace('-', '_')}" if pre else "")
    with tempfile.TemporaryDirectory(prefix="bayat-rpm-") as tmp:
        _run(["rpmbuild", "-bb", "--define", f"_topdir {tmp}", "--define", f"_sourcedir {source}",
              "--define", f"version {rpm_version}", str(specs[0])], cwd=source, context=context, what="rpmbuild")
        built = sorted(Path(tmp, "RPMS").rglob("*.rpm"))
        dist.mkdir(parents=True, exist_ok=True)
        targets = []
        for item in built:
            target = dist / item.name
            shutil.move(str(item), target)
            targets.append(target)
    return targets
