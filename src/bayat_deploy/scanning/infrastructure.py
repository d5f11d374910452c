"""Infrastructure validation (standard: "Infrastructure validation tests pass", a required check of its own).

What is validated:

* every Helm chart: the policy's helm-chart artifacts, the kubernetes target's chart, and any other
  directory holding a Chart.yaml - `helm lint`, then `helm template` with the chart's defaults and
  with each environment's target settings (release, namespace, values files, values);
* every Terraform directory: the terraform target's directory, terraform-module artifacts, and any
  other directory holding *.tf files - `terraform init -backend=false` and `terraform validate`.

A directory the policy names but the repository lacks is a failure, not something to skip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from bayat_deploy.policy.model import Policy
from bayat_deploy.policy.model.stages import HelmChart, TerraformModule
from bayat_deploy.policy.model.targets import Kubernetes, Terraform
from bayat_deploy.scanning import helm, terraform
from bayat_deploy.scanning.infra_model import Check
from bayat_deploy.session import Session
from bayat_deploy.stages.run import StageRun

SKIPPED_DIRS = {"node_modules", ".terraform", "__pycache__"}


@dataclass
class Infrastructure:
    charts: dict[str, list[str]] = field(default_factory=dict)  # chart dir -> why it is validated
    renders: dict[str, list[helm.Render]] = field(default_factory=dict)
    terraform: dict[str, list[str]] = field(default_factory=dict)  # module dir -> why
    missing: list[Check] = field(default_factory=list)
    remote_charts: set[str] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not (self.charts or self.terraform or self.missing)


@dataclass
class Validation:
    checks: list[Check] = field(default_factory=list)
    rendered: list[helm.Rendered] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


def discover(root: Path, policy: Policy) -> Infrastructure:
    found = Infrastructure()

    def add(table: dict[str, list[str]], directory: str, why: str, kind: str, holds: str) -> str | None:
        relative = _relative(root, directory)
        present = relative is not None and (any((root / relative).glob(holds)) if "*" in holds
                                            else (root / relative / holds).is_file())
        if not present:
            found.missing.append(Check("discovery", directory, tool=kind).fail(
                f"{why} names {directory!r}, but there is no {holds} there"))
            return None
        table.setdefault(relative, []).append(why)
        return relative

    for index, artifact in enumerate(policy.artifacts):
        if isinstance(artifact, HelmChart):
            add(found.charts, artifact.path, f"artifacts[{index}] ({artifact.name})", "helm", "Chart.yaml")
        elif isinstance(artifact, TerraformModule):
            add(found.terraform, artifact.path, f"artifacts[{index}] ({artifact.name})", "terraform", "*.tf")
    for environment, target in _targets(policy):
        if isinstance(target, Kubernetes) and target.gitops is None:
            chart = policy.substitute(target.chart, environment)
            if "://" in chart or not (root / chart).exists():
                found.remote_charts.add(chart)  # a chart reference, validated where that chart is built
                continue
            relative = add(found.charts, chart, f"the kubernetes target ({environment})", "helm", "Chart.yaml")
            if relative is not None:
                found.renders.setdefault(relative, []).append(helm.Render(
                    label=environment, release=policy.substitute(target.release, environment),
                    namespace=policy.substitute(target.namespace, environment),
                    values_files=tuple(policy.substitute(name, environment) for name in target.values_files),
                    # as the stable track's release is installed: its pods must carry this `track` label
                    values={**target.values, "track": "stable"}, deployed=True))
        elif isinstance(target, Terraform):
            add(found.terraform, policy.substitute(target.directory, environment),
                f"the terraform target ({environment})", "terraform", "*.tf")
    for directory, files in _walk(root):
        relative = directory.relative_to(root).as_posix() or "."
        if "Chart.yaml" in files and not _inside_chart(root, directory):
            found.charts.setdefault(relative, ["found in the repository"])
        if any(name.endswith(".tf") for name in files):
            found.terraform.setdefault(relative, ["found in the repository"])
    return found


def validate(root: Path, infrastructure: Infrastructure, env: Mapping[str, str]) -> Validation:
    result = Validation(checks=list(infrastructure.missing))
    for chart in sorted(infrastructure.charts):
        lint = helm.lint(root, chart, env)
        result.checks.append(lint)
        renders = [helm.Render(label="default values", release=Path(chart).name if chart != "." else "release")]
        renders += infrastructure.renders.get(chart, [])
        for render in renders:
            check, rendered = helm.template(root, chart, render, env)
            result.checks.append(check)
            if rendered is not None:
                result.rendered.append(rendered)
    for directory in sorted(infrastructure.terraform):
        result.checks.extend(terraform.validate(root, directory, env))
    return result


def run(session: Session, env: Mapping[str, str]) -> tuple[int, list[helm.Rendered]]:
    """Validate, write infrastructure.json, report; the exit code and what helm rendered (for trivy)."""
    root = session.root
    run = StageRun(session, "infrastructure")
    found = discover(root, session.policy)
    run.inputs.update({"charts": dict(found.charts), "terraform": dict(found.terraform)})
    result = validate(root, found, env)
    for check in result.checks:
        for item in check.findings():
            run.finding(**item)
    run.details["checks"] = [check.as_dict() for check in result.checks]
    if found.remote_charts:
        run.details["chart_references_not_validated"] = sorted(found.remote_charts)
    failed = [check for check in result.checks if not check.passed]
    run.summary.update({"checks": len(result.checks), "failed": len(failed), "charts": len(found.charts),
                        "terraform_directories": len(found.terraform)})
    lines = ["| Check | Target | Result |", "|---|---|---|"]
    lines += [f"| {c.kind} | `{c.target}`{f' ({c.context})' if c.context else ''} | "
              f"{'ok' if c.passed else 'FAILED'}: {c.summary} |" for c in result.checks]
    problems = [f"  {p.file or c.target}{f':{p.line}' if p.line else ''}: {p.message}"
                for c in failed for p in c.problems if p.blocking]
    if found.empty:
        headline = "nothing to validate: no Helm chart or Terraform directory in the repository"
    elif failed:
        headline = f"{len(failed)} of {len(result.checks)} check(s) failed"
    else:
        headline = f"{len(result.checks)} check(s) passed ({len(found.charts)} chart(s), " \
                   f"{len(found.terraform)} Terraform directory(ies))"
    if problems:
        print("infrastructure validation failed:\n" + "\n".join(problems))
    code = run.finish(not failed, headline, "\n".join(lines) if result.checks else "")
    return code, result.rendered


def _targets(policy: Policy) -> list[tuple[str, object]]:
    """(environment, its effective target): the top-level target with the environment's settings merged."""
    return [(name, environment.target or policy.target) for name, environment in policy.environments.items()]


def _relative(root: Path, directory: str) -> str | None:
    path = (root / directory).resolve()
    try:
        return path.relative_to(root.resolve()).as_posix() or "."
    except ValueError:
        return None


def _walk(root: Path):
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith(".") and d not in SKIPPED_DIRS
                            and not (Path(directory) / d / "pyvenv.cfg").exists())
        yield Path(directory), files


def _inside_chart(root: Path, directory: Path) -> bool:
    """A subchart vendored under another chart's charts/ is validated with its parent."""
    parts = directory.relative_to(root).parts
    return any(part == "charts" and (root.joinpath(*parts[:index]) / "Chart.yaml").is_file()
               for index, part in enumerate(parts))
