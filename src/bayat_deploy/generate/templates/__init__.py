"""The templates generate-pipeline writes from: github/ and gitlab/ pipelines, init/ policies; rendered
through the safe emitters of bayat_deploy.templating."""

from __future__ import annotations


def render(template: str, /, **context: object) -> str:
    from bayat_deploy.templating import render as render_safely

    return render_safely("bayat_deploy.generate", template, **context)
