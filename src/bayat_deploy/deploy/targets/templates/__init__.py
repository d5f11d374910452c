"""The files targets render at deploy time (router configs, Kubernetes manifests, SAM and Serverless
templates, the Terraform root module), beside the targets that use them; rendered through the safe emitters
of bayat_deploy.templating."""

from __future__ import annotations


def render(template: str, /, **context: object) -> str:
    from bayat_deploy.templating import render as render_safely

    return render_safely("bayat_deploy.deploy.targets", template, **context)
