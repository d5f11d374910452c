"""Helm charts: `helm lint`, and `helm template` with the default values and each environment's values.

A chart that lints but does not render with production's values fails at deploy time; rendering
every environment's values here moves that failure to the pipeline's first minutes. The rendered
manifests are also handed to `trivy config` by the scan (see `rendered`).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from bayat_deploy import tools
from bayat_deploy.scanning.infra_model import Check, Problem

INSTALL_HINT = "install helm (scripts/setup puts it in .tools/bin) to validate Helm charts"
LINT_LINE = re.compile(r"^\[(ERROR|WARNING)\]\s+(.*)$")
TEMPLATE_POSITION = re.compile(r"\((?:[^/()\s]+)/((?:templates|charts)/[^:()\s]+):(\d+)(?::\d+)?\)")
TIMEOUT = 300


@dataclass(frozen=True)
class Render:
    """One way the chart is rendered: with its defaults, or with an environment's target settings."""

    label: str  # "default values" or the environment name
    release: str
    namespace: str | None = None
    values_files: tuple[str, ...] = ()  # relative to the repository
    values: Mapping[str, Any] = field(default_factory=dict)
    deployed: bool = False  # the kubernetes target deploys it: the rendered chart must keep its contract

    @property
    def described(self) -> str:
        return self.label if self.label == "default values" else f"{self.label}'s values"


@dataclass
class Rendered:
    chart: str  # chart directory, relative to the repository
    label: str
    manifest: str


def lint(root: Path, chart: str, env: Mapping[str, str]) -> Check:
    check = Check("helm-lint", chart, tool="helm")
    if tools.find("helm") is None:
        return check.fail(f"helm is not installed: {INSTALL_HINT}")
    proc = tools.run(["helm", "lint", chart], cwd=root, env=env, timeout=TIMEOUT)
    for line in (proc.stdout + "\n" + proc.stderr).splitlines():
        match = LINT_LINE.match(line.strip())
        if match:
            level, message = match.groups()
            file, number = _position(chart, message)
            check.problems.append(Problem(message, blocking=level == "ERROR", file=file or f"{chart}/Chart.yaml",
                                          line=number))
    if proc.returncode != 0 and not any(p.blocking for p in check.problems):
        check.problems.append(Problem(_last_line(proc.stderr or proc.stdout), file=f"{chart}/Chart.yaml"))
    return check.done("lint passed" if check.passed else "lint failed")


def template(root: Path, chart: str, render: Render, env: Mapping[str, str]) -> tuple[Check, Rendered | None]:
    check = Check("helm-template", chart, tool="helm", context=render.label)
    if tools.find("helm") is None:
        return check.fail(f"helm is not installed: {INSTALL_HINT}"), None
    missing = [name for name in render.values_files if not (root / name).is_file()]
    if missing:
        return check.fail(f"values file(s) for {render.label} not found: {', '.join(missing)}",
                          file=missing[0]), None
    with tempfile.TemporaryDirectory(prefix="bayat-helm-") as scratch:
        argv = ["helm", "template", render.release, chart]
        if render.namespace:
            argv += ["--namespace", render.namespace]
        for name in render.values_files:
            argv += ["--values", name]
        if render.values:
            import yaml

            extra = Path(scratch) / "values.yaml"
            extra.write_text(yaml.safe_dump(dict(render.values), sort_keys=False), encoding="utf-8")
            argv += ["--values", str(extra)]
        proc = tools.run(argv, cwd=root, env=env, timeout=TIMEOUT)
    if proc.returncode != 0:
        message = _last_line(proc.stderr)
        file, number = _position(chart, message)
        check.problems.append(Problem(f"render with {render.described} failed: {message}",
                                      file=file or f"{chart}/Chart.yaml", line=number))
        return check.done("render failed"), None
    if render.deployed:
        from bayat_deploy.deploy.targets.kubernetes import contract

        for breach in contract.check(proc.stdout, render.values.get("track", "stable")):
            check.problems.append(Problem(f"{render.label}: {breach}", file=f"{chart}/templates"))
        if not check.passed:
            return check.done(f"rendered with {render.described}, but the kubernetes target cannot deploy it"), \
                Rendered(chart, render.label, proc.stdout)
    return check.done(f"rendered with {render.described}"), Rendered(chart, render.label, proc.stdout)


def split_by_source(manifest: str) -> dict[str, str]:
    """Rendered documents grouped by the template that produced them ("templates/deployment.yaml")."""
    grouped: dict[str, list[str]] = {}
    for document in re.split(r"(?m)^---\s*$", manifest):
        source = re.search(r"(?m)^# Source: [^/\s]+/(\S+)\s*$", document)
        if source is None or not document.strip():
            continue
        grouped.setdefault(source.group(1), []).append(document.strip() + "\n")
    return {path: "---\n".join(docs) for path, docs in grouped.items()}


def _position(chart: str, message: str) -> tuple[str | None, int | None]:
    match = TEMPLATE_POSITION.search(message)
    if match is None:
        return None, None
    return f"{chart}/{match.group(1)}", int(match.group(2))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    return (errors or lines or ["no output"])[-1].removeprefix("Error: ")
