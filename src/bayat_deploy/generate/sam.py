"""What `init` reads from an AWS SAM application: its function, its region, and how its code is packaged.

The serverless target deploys container images (Lambda `PackageType: Image`). A SAM application that
ships zip code (`Runtime` + `Handler` + `CodeUri`) gets a Dockerfile on the Lambda base image of that
runtime, so the standard's build stage has something to build; runtimes without such a base image are
named, not guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Runtime prefix -> the Lambda base image (public.ecr.aws/lambda/<name>:<version>)
BASE_IMAGES = {"python": "python", "nodejs": "nodejs"}


@dataclass(frozen=True)
class SamFunction:
    logical_id: str
    package_type: str  # Zip | Image
    runtime: str = ""  # python3.12, nodejs20.x
    handler: str = ""
    code_uri: str = "."

    @property
    def base_image(self) -> str | None:
        """The Lambda base image for a zip function's runtime, or None when there is none to use."""
        match = re.fullmatch(r"(python|nodejs)(\d+(?:\.\d+)?)(?:\.x)?", self.runtime)
        if not match:
            return None
        return f"public.ecr.aws/lambda/{BASE_IMAGES[match.group(1)]}:{match.group(2)}"


@dataclass(frozen=True)
class SamApp:
    template: Path
    functions: tuple[SamFunction, ...]
    region: str | None

    @property
    def function(self) -> SamFunction | None:
        return self.functions[0] if self.functions else None


def _loader():
    """A YAML loader that reads CloudFormation's short tags (!Ref, !Sub, !GetAtt) as plain values."""
    import yaml

    class CloudFormationLoader(yaml.SafeLoader):
        pass

    def any_tag(loader, _suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_scalar(node)

    CloudFormationLoader.add_multi_constructor("!", any_tag)
    return CloudFormationLoader


def read_sam(root: Path, template: Path) -> SamApp:
    import yaml

    try:
        document = yaml.load((root / template).read_text(encoding="utf-8", errors="replace"), Loader=_loader())
    except (OSError, yaml.YAMLError):
        document = None
    document = document if isinstance(document, dict) else {}
    globals_ = ((document.get("Globals") or {}).get("Function") or {}) if isinstance(document.get("Globals"), dict) \
        else {}
    functions = []
    for logical_id, resource in (document.get("Resources") or {}).items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_, **(resource.get("Properties") or {})}
        code = props.get("CodeUri", ".")
        functions.append(SamFunction(
            logical_id=str(logical_id), package_type=str(props.get("PackageType", "Zip")),
            runtime=str(props.get("Runtime", "")), handler=str(props.get("Handler", "")),
            code_uri=str(code) if isinstance(code, str) else ".",
        ))
    return SamApp(template, tuple(functions), _region(root / template.parent))


def _region(folder: Path) -> str | None:
    """The region `sam deploy` uses: samconfig.toml's `region` (default environment)."""
    for name in ("samconfig.toml", "samconfig.yaml", "samconfig.yml"):
        path = folder / name
        if path.is_file():
            match = re.search(r"""(?m)^\s*region\s*[=:]\s*["']?([a-z]{2}(?:-[a-z]+)+-\d)["']?""",
                              path.read_text(encoding="utf-8", errors="replace"))
            if match:
                return match.group(1)
    return None


def dockerfile(function: SamFunction) -> str:
    """A Dockerfile that packages a zip function's code on its runtime's Lambda base image."""
    code = function.code_uri.rstrip("/") or "."
    lines = [
        f"# Packages the {function.logical_id} function of the SAM template as a container image, the form the",
        "# serverless target deploys (written by `generate-pipeline init`; edit it freely).",
        f"FROM {function.base_image}",
    ]
    if function.runtime.startswith("python"):
        lines += [f"COPY {code}/ ${{LAMBDA_TASK_ROOT}}/",
                  "RUN if [ -f requirements.txt ]; then pip install --no-cache-dir -r requirements.txt; fi"]
    else:
        lines += [f"COPY {code}/ ${{LAMBDA_TASK_ROOT}}/",
                  "RUN if [ -f package.json ]; then npm install --omit=dev; fi"]
    lines.append(f'CMD ["{function.handler}"]')
    return "\n".join(lines) + "\n"
