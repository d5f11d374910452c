"""`bayat-deploy scan` from start to verdict: what runs, in which order, and what is written.

1. The ignore file is read first: a bad one is bad input (exit 2) before anything runs.
2. Infrastructure validation (helm, terraform) -> its own evidence, `infrastructure.json`.
3. trivy over the repository, over the built images and over the rendered Helm manifests; SAST.
4. The gate and the ignores decide; SARIF and the GitLab reports get what closes the gate;
   the evidence, `scan.json`, gets every finding with its verdict.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from bayat_deploy import evidence, tools
from bayat_deploy.errors import BayatError, EXIT_FAILED, EXIT_OK
from bayat_deploy.fsutil import write_atomic
from bayat_deploy.policy.model.stages import DockerImage
from bayat_deploy.scanning import gate, gitlab, helm, ignores, infrastructure, report, sarif, sast, trivy, vulndb
from bayat_deploy.scanning.findings import ScanFinding, severity_rank
from bayat_deploy.scanning.ignores import check_key
from bayat_deploy.session import Session
from bayat_deploy.stages.run import StageRun

SARIF_FILE = "scan.sarif"
DEPENDENCY_REPORT = "gl-dependency-scanning-report.json"
CONTAINER_REPORT = "gl-container-scanning-report.json"
IMAGE_SCANNERS = ("vuln", "secret", "license")  # misconfiguration checks belong to the sources, not images


@dataclass
class Options:
    images: tuple[str, ...] = ()
    skip_images: bool = False
    cache_dir: Path | None = None


@dataclass
class Outcome:
    findings: list[ScanFinding] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what failed to run: fails the stage by itself
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    details: dict = field(default_factory=dict)


def run_scan(session: Session, options: Options) -> int:
    policy, root, context = session.policy, session.root, session.context
    settings = policy.scan
    today = datetime.now(timezone.utc).date()
    ignore_file = ignores.load(root, settings.ignore_file)
    cache_dir = (options.cache_dir or vulndb.default_cache_dir(context)).resolve()
    images, dockerfiles, image_problem = _images(session, options)
    env = context.tool_env()
    started = datetime.now(timezone.utc)
    outcome = Outcome()
    run = StageRun(session, "scan", inputs={
        "severity": settings.severity.name, "scanners": list(settings.scanners), "images": images,
        "ignore_file": settings.ignore_file, "cache_dir": str(cache_dir), "sast": settings.sast,
        "infrastructure": settings.infrastructure})

    if settings.infrastructure:
        infra_code, rendered = infrastructure.run(session, env)
    else:
        infra_code, rendered = None, []
        evidence.evidence_path(session.evidence_dir, "infrastructure").unlink(missing_ok=True)
        outcome.notes.append("infrastructure validation is off (scan.infrastructure: false)")
    if (root / ".trivyignore").exists() and settings.ignore_file != ".trivyignore":
        outcome.notes.append(f".trivyignore is not used: every ignore needs a reason and an expiry date, "
                             f"so write it in {settings.ignore_file} (trivy's YAML format with statement and "
                             f"expired_at)")
    vulns_ok = _check_database(outcome, settings.scanners, cache_dir)
    scanners = [name for name in settings.scanners if name != "vuln" or vulns_ok]
    if scanners:
        skip_dirs = [".bayat"] + [path.name for path in root.iterdir() if (path / "pyvenv.cfg").is_file()]
        skip_dirs += [d for d in (_inside(root, cache_dir), _inside(root, session.evidence_dir)) if d]
        _collect(outcome, lambda: trivy.scan_repository(root, scanners, cache_dir, env, skip_dirs))
    if image_problem:
        outcome.problems.append(image_problem)
    _scan_images(outcome, images, [name for name in scanners if name in IMAGE_SCANNERS], cache_dir, env, root)
    if rendered:
        _scan_rendered(outcome, rendered, cache_dir, env)
    if settings.sast:
        _sast(outcome, root, env)

    gate.apply(outcome.findings, settings.severity.name, ignore_file, today)
    outcome.findings.sort(key=lambda f: (not f.counts, -severity_rank(f.severity), f.where, f.id))
    finished = datetime.now(timezone.utc)
    if "vuln" in settings.scanners:
        _write_gitlab_reports(session, run, outcome, images, vulns_ok, started, finished)
    else:  # GitLab reports are about vulnerabilities; without that scanner an old one must not linger
        for name in (DEPENDENCY_REPORT, CONTAINER_REPORT):
            (session.reports_dir / name).unlink(missing_ok=True)
    _write_sarif(session, run, outcome, dockerfiles)
    return _finish(run, outcome, ignore_file, today, settings.severity.name, infra_code)


def _check_database(outcome: Outcome, scanners, cache_dir: Path) -> bool:
    """Whether vulnerabilities can be scanned; a missing database is a problem, never a silent pass."""
    if "vuln" not in scanners:
        return False
    database = vulndb.inspect(cache_dir)
    outcome.details["vulnerability_db"] = database.as_dict()
    if not database.usable:
        outcome.problems.append(f"no usable vulnerability database ({database.problem}): "
                                "dependency and image vulnerabilities were NOT scanned")
    elif database.warning():
        outcome.notes.append(database.warning())
    return database.usable


def _scan_images(outcome: Outcome, images: list[str], scanners: list[str], cache_dir: Path, env: dict,
                 root: Path) -> None:
    scanned: list[dict] = []
    for image in images if scanners else ():
        result = _collect(outcome, lambda: trivy.scan_image(image, scanners, cache_dir, env, root))
        scanned.append({"image": image, "scanned": result is not None,
                        "operating_system": result.operating_system if result else None})
    outcome.details["images"] = scanned


def _images(session: Session, options: Options) -> tuple[list[str], dict[str, str], str | None]:
    """The images to scan, the Dockerfile each was built from, and why images cannot be scanned (if so)."""
    policy = session.policy
    declared = {artifact.name or policy.project: f"{artifact.context}/{artifact.dockerfile}".removeprefix("./")
                for artifact in policy.artifacts if isinstance(artifact, DockerImage)}
    if options.images:  # named on the command line: scanned even where the policy turns image scanning off
        return list(options.images), {}, None
    if options.skip_images or not policy.scan.images:
        return [], {}, None
    try:
        build = evidence.read(session.evidence_dir, "build")
    except ValueError as exc:
        return [], {}, str(exc)
    if build is None:
        if declared:
            return [], {}, (f"the policy builds {len(declared)} image(s) but there is no build evidence in "
                            f"{session.evidence_dir}: run `bayat-deploy build` first, name the images with "
                            f"--image REF, or scan the repository only with --skip-images")
        return [], {}, None
    built = [(a.reference or a.name, a.name) for a in build.artifacts if a.type == "docker-image"]
    archived = [r for r in build.details.get("images", []) if r.get("archive")]
    if archived:  # built in another job: the images come as archives with the job's artifacts
        from bayat_deploy.building.archive import ensure_loaded
        from bayat_deploy.dockerclient import docker_client

        try:
            client = docker_client(session.context)
            for record in archived:
                ensure_loaded(client, record, session.root)
        except BayatError as exc:
            return [], {}, str(exc)
    return [ref for ref, _ in built], {ref: declared[name] for ref, name in built if name in declared}, None


def _collect(outcome: Outcome, scan):
    """Run one trivy scan; a scan that cannot run is a problem of the stage, not a crash."""
    try:
        result = scan()
    except BayatError as exc:  # TrivyFailed, ToolMissing
        outcome.problems.append(str(exc))
        return None
    outcome.findings.extend(result.findings)
    if result.version:
        outcome.versions["trivy"] = result.version
    return result


def _scan_rendered(outcome: Outcome, rendered: list[helm.Rendered], cache_dir: Path, env: dict) -> None:
    """trivy config over what helm rendered; findings the chart scan already reported are not repeated."""
    known = {(check_key(f.id), f.file) for f in outcome.findings if f.category == "misconfiguration"}
    origin: dict[str, tuple[str, str]] = {}  # scratch path -> (template in the repository, render label)
    with tempfile.TemporaryDirectory(prefix="bayat-rendered-") as scratch:
        for index, item in enumerate(rendered):
            for template, text in helm.split_by_source(item.manifest).items():
                relative = f"{index}/{template}"
                path = Path(scratch) / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                origin[relative] = (f"{item.chart}/{template}".removeprefix("./"), item.label)
        attempt = Outcome()
        report_ = _collect(attempt, lambda: trivy.scan_config(Path(scratch), cache_dir, env))
    if report_ is None:
        outcome.problems.extend(attempt.problems)
        return
    merged: dict[tuple, ScanFinding] = {}
    for finding in report_.findings:
        file, label = origin.get(finding.file or "", (finding.file, "?"))
        key = (check_key(finding.id), file)
        if key in known:
            continue
        if key in merged:
            merged[key].extra["renders"].append(label)
            continue
        finding.file, finding.line, finding.end_line = file, None, None
        finding.extra["renders"] = [label]
        merged[key] = finding
    for finding in merged.values():
        finding.context = "in the manifests rendered with " + ", ".join(
            label if label == "default values" else f"{label}'s values" for label in finding.extra["renders"])
        outcome.findings.append(finding)
    outcome.details["rendered_manifests"] = sorted({label for _, label in origin.values()})


def _sast(outcome: Outcome, root: Path, env: dict) -> None:
    covered = []
    for analyzer in sast.ANALYZERS:
        files = sast.source_files(root, analyzer)
        entry = {"language": analyzer.language, "tool": analyzer.tool, "files": len(files), "findings": 0}
        covered.append(entry)
        if not files:
            continue
        if tools.find(analyzer.tool) is None:
            outcome.problems.append(f"{analyzer.tool} is not installed, so {len(files)} {analyzer.language} "
                                    f"file(s) were not analysed: {analyzer.install_hint}")
            continue
        try:
            findings = analyzer.run(root, files, env)
        except BayatError as exc:
            outcome.problems.append(str(exc))
            continue
        entry["findings"] = len(findings)
        outcome.findings.extend(findings)
    outcome.details["sast"] = covered


def _write_sarif(session: Session, run: StageRun, outcome: Outcome, dockerfiles: dict[str, str]) -> None:
    path = session.reports_dir / SARIF_FILE
    gated = [f for f in outcome.findings if gate.in_reports(f)]
    write_atomic(path, sarif.render(gated, outcome.versions, dockerfiles))
    _announce(session, run, outcome, "sarif", path)


def _write_gitlab_reports(session: Session, run: StageRun, outcome: Outcome, images: list[str], vulns_ok: bool,
                          started: datetime, finished: datetime) -> None:
    gated = [f for f in outcome.findings if gate.in_reports(f) and f.category == "vulnerability"]
    version = outcome.versions.get("trivy", "")
    path = session.reports_dir / DEPENDENCY_REPORT
    write_atomic(path, gitlab.dependency_report([f for f in gated if not f.image], version, started, finished,
                                                "success" if vulns_ok else "failure"))
    _announce(session, run, outcome, "gitlab-dependency-report", path)
    path = session.reports_dir / CONTAINER_REPORT
    if not images:  # no image was scanned: an old report must not pass for a clean one
        path.unlink(missing_ok=True)
        return
    scanned_all = all(item["scanned"] for item in outcome.details.get("images", []))
    write_atomic(path, gitlab.container_report([f for f in gated if f.image], version, started, finished,
                                               "success" if vulns_ok and scanned_all else "failure"))
    _announce(session, run, outcome, "gitlab-container-report", path)


def _announce(session: Session, run: StageRun, outcome: Outcome, name: str, path: Path) -> None:
    relative = str(path.relative_to(session.root))
    run.artifact(type=name, name=path.name, path=relative)
    run.output(name, str(path))
    outcome.details.setdefault("reports", {})[name] = relative


def _finish(run: StageRun, outcome: Outcome, ignore_file: ignores.IgnoreFile, today, gate_name: str,
            infra_code: int | None) -> int:
    infra_status = "off" if infra_code is None else "pass" if infra_code == EXIT_OK else "fail"
    for finding in outcome.findings:
        run.finding(**finding.evidence())
    counts = gate.tally(outcome.findings)
    blocking = counts["TOTAL"]["blocking"]
    run.summary.update({"gate": gate_name, "blocking": blocking, "ignored": counts["TOTAL"]["ignored"],
                        "total": counts["TOTAL"]["total"], "counts": counts, "errors": len(outcome.problems),
                        "infrastructure": infra_status})
    run.details.update(outcome.details)
    run.details.update({"problems": outcome.problems, "notes": outcome.notes, "tool_versions": outcome.versions,
                        "ignore_file": ignore_file.path,
                        "ignores": [entry.as_dict(today) for entry in ignore_file.entries]})
    run.output("blocking", str(blocking))
    passed = blocking == 0 and not outcome.problems
    run.output("infrastructure", infra_status)
    database = outcome.details.get("vulnerability_db") or {}
    instructions = vulndb.instructions(Path(database["cache_dir"])) if database.get("status", "ok") != "ok" else ""
    print(report.text(outcome.findings, counts, gate_name, outcome.problems, outcome.notes))
    if instructions:
        print(instructions)
    code = run.finish(passed, report.headline(outcome.findings, gate_name, outcome.problems),
                      report.markdown(outcome.findings, counts, gate_name, outcome.problems, outcome.notes,
                                      instructions))
    return EXIT_FAILED if EXIT_FAILED in (code, infra_code) else EXIT_OK


def _inside(root: Path, path: Path) -> str | None:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
