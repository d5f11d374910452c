"""The documentation: generated parts current, every schema field in the reference, links that resolve, and a
README a newcomer can read (the user's quick start, then the contributor's two commands)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from bayat_deploy.policy import catalogue
from tests.conftest import REPO

DOCS = REPO / "docs"
PAGES = sorted([REPO / "README.md", *DOCS.rglob("*.md")])


def test_generated_parts_are_current():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "render-docs"), "--check"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr


def _schema_sections(schema: dict) -> dict[str, dict]:
    """Every mapping of the schema (the file itself and each $defs entry) -> its properties."""
    return {"policy": schema["properties"],
            **{name.lower(): spec.get("properties", {}) for name, spec in schema["$defs"].items()}}


def test_the_policy_reference_covers_every_field_of_the_schema():
    schema = json.loads((REPO / "schema" / "deploy.schema.json").read_text())
    text = (DOCS / "policy-reference.md").read_text()
    sections = dict(re.findall(r'(?ms)^### <a id="([a-z]+)"></a>.*?\n(.*?)(?=^### |\Z)', text))
    missing = []
    for section, properties in _schema_sections(schema).items():
        body = sections.get(section)
        if body is None:
            missing.append(f"the {section} table")
            continue
        missing += [f"{section}.{name}" for name in properties if f"| `{name}` |" not in body]
    assert not missing, f"docs/policy-reference.md lacks {missing}: run scripts/render-docs"


def test_the_error_page_lists_every_rule():
    text = (DOCS / "errors.md").read_text()
    assert all(f"| `{name}` |" in text for name, _ in catalogue.rules())


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    text = page.read_text()
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve()
        if not resolved.exists():
            broken.append(target)
        elif anchor and resolved.suffix == ".md" and f'id="{anchor}"' not in resolved.read_text() and \
                not re.search(rf"(?m)^#+ .*{re.escape(anchor.replace('-', ' '))}", resolved.read_text(), re.I):
            broken.append(target)
    assert not broken, broken


def test_the_readme_is_short_and_starts_with_the_users_quick_start():
    text = (REPO / "README.md").read_text()
    assert len(text.encode()) < 15 * 1024
    headings = re.findall(r"(?m)^## (.+)$", text)
    assert headings[0].startswith("Quick start") and "generate-pipeline init" in text.split("## ", 2)[1]
    assert headings.index("Working on this repository") > headings.index("Documentation")


def test_the_readme_names_the_two_setup_commands():
    text = (REPO / "README.md").read_text()
    section = text.split("## Working on this repository", 1)[1].split("\n## ", 1)[0]
    assert "scripts/demo" in section and "scripts/test" in section
    run = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert run == "scripts/test" and run in section
