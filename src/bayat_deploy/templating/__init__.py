"""The Jinja environment every rendered file goes through, and the only ways a value gets into one: the
pipelines generate-pipeline writes (templates in generate/templates/) and the files targets render at deploy
time (deploy/targets/templates/: router configs, manifests, tfvars), each package with its own templates.

A generated pipeline is reviewed through the policy that produced it, so no value may change the structure
of the file it lands in. Every ``{{ ... }}`` in a template must therefore end in one of the emitters below,
each of which produces text that is safe *for its position*, or stops with ``UnsafeValue``:

* ``y`` — a complete YAML scalar (plain where that reads the same, otherwise quoted);
* ``word`` — a fragment of a name, key or shell word (``deploy-{{ env.name | word }}``): only characters
  that mean nothing to YAML, shells and CI expressions;
* ``comment`` — text after ``#``: line breaks and control characters become spaces;
* ``flow`` — a list as a YAML flow sequence of ``y`` scalars;
* ``block(indent)`` — the body of a literal block scalar (``|``), every line indented;
* ``expression`` — the inside of a GitHub ``${{ }}`` expression written by the template;
* ``hcl`` — a quoted Terraform (HCL) string, with ``${``/``%{`` template sequences escaped.

Template literals and macro calls need no emitter (the macros' own placements are checked the same way).
The check runs when a template is compiled (``PlacementChecker``), so a template that places a raw value
cannot be rendered at all, and tests/templating/test_emitters.py proves every shipped template passes it.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache

from bayat_deploy.errors import BadInput

# Plain (unquoted) scalars: no spaces, no flow indicators, nothing YAML reads as an indicator at the start,
# no trailing colon; and then only when both YAML versions read the text back as that same string.
_PLAIN = re.compile(r"[A-Za-z0-9_./$~][A-Za-z0-9_./@+=:~%*$-]*(?<!:)")
# Words YAML 1.1 (GitLab's Ruby parser) reads as booleans, beyond what PyYAML knows.
_RESERVED = {"y", "n"}
# Numbers in YAML 1.2's core schema (GitHub's parser) that YAML 1.1 reads as strings.
_YAML12_NUMBER = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|"
                            r"[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")
_WORD = re.compile(r"[A-Za-z0-9._/@%+=:-]+")
_EXPRESSION = re.compile(r"[A-Za-z0-9_.\-()!&|=' <>]*")
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_PLATFORM_SYNTAX = ("${{", "$[[")


class UnsafeValue(BadInput):
    """Raised when a value cannot be placed in a generated file without changing its structure."""


def _refuse(value: object, position: str, why: str) -> UnsafeValue:
    return UnsafeValue(f"cannot place {value!r} {position} of a generated file: {why}")


def _no_platform_syntax(text: str, position: str) -> None:
    for token in _PLATFORM_SYNTAX:
        if token in text:
            raise _refuse(text, position, f"{token!r} would be evaluated by the CI platform")


def yaml_scalar(value: object) -> str:
    """A value as one YAML scalar: plain where that reads unambiguously, quoted otherwise."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    text = str(value)
    _no_platform_syntax(text, "as a value")
    if _reads_plain(text):
        return text
    if text.isprintable():
        return "'" + text.replace("'", "''") + "'"
    return json.dumps(text)  # escapes every line break and control character (\n, \u2028, ...)


@lru_cache(maxsize=4096)
def _reads_plain(text: str) -> bool:
    if not _PLAIN.fullmatch(text) or text.lower() in _RESERVED or _YAML12_NUMBER.fullmatch(text):
        return False
    import yaml

    try:
        return yaml.safe_load(f"key: {text}") == {"key": text}
    except yaml.YAMLError:
        return False


def word(value: object) -> str:
    """A fragment of a name or shell word: refused unless it is made of inert characters only."""
    text = str(value)
    if not _WORD.fullmatch(text):
        raise _refuse(text, "inside a name or command", "only letters, digits and . _ / @ % + = : - can go there")
    return text


def comment(value: object) -> str:
    """Text for a YAML comment: it can never end the comment line."""
    return " ".join(_HIDDEN.sub(" ", str(value)).split())


def flow(values) -> str:
    """A flow sequence; a colon in an item is quoted too, as flow context gives it a meaning."""
    items = (yaml_scalar(v) for v in values)
    return "[" + ", ".join(json.dumps(item) if ":" in item and item[0] not in "'\"" else item for item in items) + "]"


def block(value: object, indent: int) -> str:
    """The body of a literal block scalar: every line indented, so none can end the block early."""
    text = str(value)
    _no_platform_syntax(text, "in a block")
    if _HIDDEN.search(text.replace("\n", "")):
        raise _refuse(text, "in a block", "it holds control characters")
    first, *rest = text.split("\n")
    pad = " " * indent
    return "\n".join([first, *(pad + line if line else line for line in rest)])


def expression(value: object) -> str:
    text = str(value)
    if not _EXPRESSION.fullmatch(text):
        raise _refuse(text, "inside ${{ }}", "only names, operators and quoted literals go there")
    return text


def hcl_string(value: object) -> str:
    """A quoted HCL string; `${` and `%{` are escaped so the value is never a template."""
    text = str(value)
    if _HIDDEN.search(text):
        raise _refuse(text, "in a Terraform string", "it holds control characters")
    return json.dumps(text).replace("${", "$${").replace("%{", "%%{")


EMITTERS = {"y": yaml_scalar, "word": word, "comment": comment, "flow": flow, "block": block,
            "expression": expression, "hcl": hcl_string}


# The packages whose `templates/` directory holds templates rendered here.
PACKAGES = ("bayat_deploy.generate", "bayat_deploy.deploy.targets")


@lru_cache(maxsize=None)
def environment(package: str):
    import jinja2

    from bayat_deploy.templating.placements import check_placements

    class Environment(jinja2.Environment):
        def _parse(self, source, name, filename):
            tree = super()._parse(source, name, filename)
            check_placements(tree, name or "<template>", EMITTERS)
            return tree

    env = Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # noqa: S701 - we render YAML, not HTML; the emitters above do the escaping
    )
    env.filters.update(EMITTERS)
    return env


def render(package: str, template: str, /, **context: object) -> str:
    """`template` from `package`'s templates/ directory, rendered and tidied."""
    return tidy(environment(package).get_template(template).render(**context))


def tidy(text: str) -> str:
    """Drop the blank lines optional template blocks leave inside a YAML block (before a line indented by
    six or more spaces: a step's body), and trailing spaces; blank lines between jobs stay."""
    lines = [line.rstrip() for line in text.splitlines()]
    kept = [line for i, line in enumerate(lines)
            if line or i + 1 >= len(lines) or not lines[i + 1].startswith("      ")]
    while len(kept) > 1 and kept[-1] == "" and kept[-2] == "":
        kept.pop()
    return "\n".join(kept).rstrip("\n") + "\n"
