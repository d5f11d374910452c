"""`generate-pipeline init`: write a minimal, commented `.bayat/deploy.yml` for what the repository holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bayat_deploy.errors import BadInput
from bayat_deploy.generate.detect import RELEASE_VARIANT, Detected, detect, slug

POLICY_PATH = Path(".bayat/deploy.yml")
DEFAULT_CONTAINER_PORT = 8080  # the standard's (policy/model/targets.py DockerHost.container_port)


@dataclass
class Section:
    type: str
    settings: list[tuple[str, object]] = field(default_factory=list)


def _artifacts(found: Detected) -> list[Section]:
    artifacts = []
    for dockerfile in found.dockerfiles:
        context = dockerfile.parent
        name = found.project if context == Path(".") else f"{found.project}-{slug(context.name)}"
        variant = dockerfile.name.replace("Dockerfile", "").strip(".")
        if variant and not RELEASE_VARIANT.search(dockerfile.name):  # api.Dockerfile beside worker.Dockerfile
            name = f"{name}-{slug(variant)}"
        settings: list[tuple[str, object]] = [("name", name)]
        if context != Path("."):
            settings.append(("context", str(context)))
        if dockerfile.name != "Dockerfile":
            settings.append(("dockerfile", dockerfile.name))
        artifacts.append(Section("docker-image", settings))
    if found.python and found.publishes_packages:
        artifacts.append(Section("python-package", [("name", slug(found.python_name or found.project))]))
    if found.npm and not found.npm_private and found.publishes_packages:
        artifacts.append(Section("npm-package", [("name", found.npm_name or found.project)]))
    for chart in found.charts:
        name = found.chart_names.get(chart) or (chart.name if chart != Path(".") else found.project)
        artifacts.append(Section("helm-chart", [("name", slug(name)), ("path", str(chart))]))
    for folder in found.terraform_modules:
        name = found.project if folder == Path(".") else slug(folder.name)
        artifacts.append(Section("terraform-module", [("name", name), ("path", str(folder))]))
    # The standard already builds ./Dockerfile as an image named after the project: say nothing then.
    if len(artifacts) == 1 and artifacts[0].type == "docker-image" and artifacts[0].settings == [
            ("name", found.project)]:
        return []
    return artifacts


def _target(found: Detected) -> Section | None:
    if found.sam_template:
        settings: list[tuple[str, object]] = [("framework", "sam"), ("template", str(found.sam_template))]
        if found.sam and found.sam.function:
            settings.append(("function", found.sam.function.logical_id))
        if found.sam and found.sam.region:
            settings.append(("region", found.sam.region))
        return Section("serverless", settings)
    if found.serverless_file:
        return Section("serverless", [("framework", "serverless"), ("template", str(found.serverless_file))])
    if found.is_library:
        return None
    if found.charts:
        return Section("kubernetes", [("chart", str(found.charts[0]))])
    infra = [d for d in found.terraform_dirs if d not in found.terraform_modules]
    if infra and not found.dockerfiles:
        return Section("terraform", [("directory", str(infra[0]))])
    if found.port and found.port != DEFAULT_CONTAINER_PORT:
        return Section("docker-host", [("container_port", found.port)])
    return None


def _tests(found: Detected) -> list[tuple[str, dict]]:
    if found.tests is None:
        return []
    return [("unit", {"run": found.tests.run, "junit": found.tests.junit})]


def _evidence(found: Detected, library: bool) -> list[str]:
    lines = [f"{p} -> container image" for p in found.dockerfiles]
    if found.python:
        lines.append(f"{found.python} -> Python " + ("application" if found.is_application else "package"))
    if found.npm:
        lines.append(f"{found.npm} -> npm " + ("application" if found.is_application or found.npm_private
                                               else "package"))
    lines += [f"{p / 'Chart.yaml'} -> Helm chart, Kubernetes target" for p in found.charts]
    lines += [f"{p}/*.tf -> Terraform " + ("module (published)" if p in found.terraform_modules else "configuration")
              for p in found.terraform_dirs]
    if library:
        lines.append("no container image, serverless app or applied Terraform -> a library: published, not deployed")
    if found.sam_template:
        lines.append(f"{found.sam_template} -> AWS SAM, serverless target")
        function = found.sam.function if found.sam else None
        if function:
            lines.append(f"{found.sam_template}: function {function.logical_id} ({function.package_type}"
                         + (f", {function.runtime}" if function.runtime else "") + ") gets the traffic shifts")
        if found.sam and found.sam.region:
            lines.append(f"samconfig: region {found.sam.region}")
        planned = lambda_dockerfile(found)
        if planned:
            lines.append(f"no Dockerfile: init writes one on {function.base_image}, as the serverless target "
                         "deploys container images")
        elif function and not found.dockerfiles:
            lines.append(f"no Dockerfile, and no Lambda base image for runtime {function.runtime or '?'}: add a "
                         "Dockerfile (the serverless target deploys container images)")
    if found.serverless_file:
        lines.append(f"{found.serverless_file} -> Serverless Framework, serverless target")
    if found.port:
        lines.append(f"{found.dockerfiles[0]}: EXPOSE {found.port} -> the port the container listens on")
    if found.tests:
        lines.append(f"{found.tests.because} -> tests run with `{found.tests.run}`")
    if found.tag_prefix is not None:
        lines.append(f"release tags such as {found.tag_prefix}1.2.3 -> "
                     + (f"tag prefix {found.tag_prefix!r}" if found.tag_prefix else "tags without a prefix"))
    if found.default_branch != "main":
        lines.append(f"default branch {found.default_branch} -> releases and deployments come from it")
    return lines or ["nothing deployable yet: the standard's defaults (a container image from ./Dockerfile)"]


def lambda_dockerfile(found: Detected) -> str | None:
    """The Dockerfile a SAM app with zip code and no Dockerfile of its own gets, or None."""
    from dataclasses import replace

    from bayat_deploy.generate.sam import dockerfile

    function = found.sam.function if found.sam else None
    if found.dockerfiles or function is None or function.package_type != "Zip" or not function.base_image:
        return None
    folder = found.sam.template.parent
    code = (folder / function.code_uri).as_posix() if folder != Path(".") else function.code_uri
    return dockerfile(replace(function, code_uri=code))


def render_policy(root: Path) -> tuple[str, Detected]:
    from bayat_deploy.generate.templates import render
    from bayat_deploy.policy.schema import SCHEMA_ID

    found = detect(root)
    artifacts = _artifacts(found)
    library = found.is_library and bool(artifacts)
    analysis = [{"name": "ruff", "run": "ruff check ."}] if found.ruff else []
    text = render("init/deploy.yml.j2", schema_url=SCHEMA_ID, project=found.project,
                  evidence=_evidence(found, library), library=library,
                  artifacts=artifacts, target=_target(found), tests=_tests(found),
                  default_branch=found.default_branch if found.default_branch != "main" else None,
                  tag_prefix=found.tag_prefix if found.tag_prefix not in (None, "v") else None,
                  static_analysis=analysis)
    return text, found


def init(root: Path, *, force: bool = False) -> list[Path]:
    """Write the policy (and, for a SAM app with zip code, its Dockerfile); the files written."""
    from bayat_deploy.errors import PolicyError
    from bayat_deploy.fsutil import write_atomic
    from bayat_deploy.policy.loader import build_policy
    from bayat_deploy.policy.yamlpos import load_text

    if not root.is_dir():
        raise BadInput(f"{root}: not a directory")
    target = root / POLICY_PATH
    if target.exists() and not force:
        raise BadInput(f"{target} already exists; pass --force to overwrite it")
    text, found = render_policy(root)
    try:  # never write a policy that would not validate
        build_policy(load_text(text, str(target)), target)
    except PolicyError as exc:  # pragma: no cover - would be a bug in the template
        raise BadInput("the generated policy does not validate (a bug, please report it):\n"
                       + "\n".join(exc.lines())) from None
    files = {target: text}
    lambda_image = lambda_dockerfile(found)
    if lambda_image and not (root / "Dockerfile").exists():
        files[root / "Dockerfile"] = lambda_image
    written = []
    for path, content in files.items():
        try:
            write_atomic(path, content)
        except OSError as exc:
            for done in written:  # all or nothing
                done.unlink(missing_ok=True)
            raise BadInput(f"cannot write {path}: {exc.strerror or exc}") from None
        written.append(path)
    return written
