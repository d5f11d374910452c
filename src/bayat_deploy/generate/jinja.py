"""The one Jinja environment every generated file is rendered with (templates ship in this package)."""

from __future__ import annotations

import json
import re
from functools import lru_cache

_PLAIN = re.compile(r"^[A-Za-z_/.][A-Za-z0-9_./@-]*$")
_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def yaml_scalar(value: object) -> str:
    """A value as YAML: plain where that reads unambiguously, double-quoted (JSON) otherwise."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)


@lru_cache(maxsize=1)
def environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("bayat_deploy.generate", "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - we render YAML, not HTML
    )
    env.filters["y"] = yaml_scalar
    return env


def render(template: str, **context: object) -> str:
    return tidy(environment().get_template(template).render(**context))


def tidy(text: str) -> str:
    """Drop the blank lines optional template blocks leave inside a YAML block (before a line indented by
    six or more spaces: a step's body), and trailing spaces; blank lines between jobs stay."""
    lines = [line.rstrip() for line in text.splitlines()]
    kept = [line for i, line in enumerate(lines)
            if line or i + 1 >= len(lines) or not lines[i + 1].startswith("      ")]
    while len(kept) > 1 and kept[-1] == "" and kept[-2] == "":
        kept.pop()
    return "\n".join(kept).rstrip("\n") + "\n"
