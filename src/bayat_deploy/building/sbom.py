"""A CycloneDX SBOM per image, made by trivy from the image in the local Docker engine.

`--format cyclonedx` makes trivy analyse packages only (it says so: it "disables security
scanning"), so no vulnerability database is needed and this works offline. `--image-src docker`
keeps trivy from falling back to pulling the image from a registry.
"""

from __future__ import annotations

import json
from pathlib import Path

from bayat_deploy import tools
from bayat_deploy.context import RunContext
from bayat_deploy.errors import BayatError

TRIVY_HINT = "install trivy (scripts/setup puts it in .venv/bin) or set `sbom: false` on the image artifact"


def make_sbom(image: str, output: Path, context: RunContext, timeout: float = 600) -> int:
    """Write the SBOM of `image` to `output`; returns the number of components it lists."""
    tools.require("trivy", TRIVY_HINT)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    proc = tools.run(["trivy", "image", "--quiet", "--format", "cyclonedx", "--image-src", "docker",
                      "--output", str(partial), image], env=context.tool_env(), timeout=timeout)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        detail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-10:])
        raise BayatError(f"trivy could not make the SBOM of {image} (exit {proc.returncode}):\n{detail}")
    try:
        document = json.loads(partial.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        partial.unlink(missing_ok=True)
        raise BayatError(f"trivy wrote no readable SBOM for {image}: {exc}") from None
    if document.get("bomFormat") != "CycloneDX":
        partial.unlink(missing_ok=True)
        raise BayatError(f"trivy's output for {image} is not a CycloneDX document")
    partial.replace(output)
    return len(document.get("components") or [])
