"""Fuzzing the policy loader with mutations of the valid corpus and the bundled example.

Mutations: type swaps, deleted keys, huge values, hostile unicode, YAML tags, anchors and aliases
(bombs included), merge keys, NUL and non-UTF-8 bytes, truncation and duplicated lines. For each input
`policy validate` must exit 0, or exit 2 with every error located as FILE:LINE:COL; never an internal
error or a traceback; within 200 MB of Python allocations, and without hanging (a 10 s guard against
super-linear inputs such as alias bombs: the speed itself is measured in bench/startup.py, not here, as
a loaded 2-core CI machine under tracemalloc takes 2 s for an ordinary policy). When it validates,
`policy show` and `generate-pipeline --check` (every GitHub and GitLab file rendered) must work too.

The budget is fixed and the run derandomised, so CI sees the same inputs every time; raise it for a
longer hunt with BAYAT_FUZZ_EXAMPLES=5000. Whatever it finds is minimised into corpus/broken/.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
import tracemalloc
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayat_deploy import cli
from bayat_deploy.generate import cli as generate_cli
from tests.support.example import EXAMPLE

SEEDS = sorted((Path(__file__).parent / "corpus" / "ok").glob("*.yml")) + [EXAMPLE / ".bayat" / "deploy.yml"]
EXAMPLES = int(os.environ.get("BAYAT_FUZZ_EXAMPLES", "300"))
HANG_SECONDS, MEGABYTES = 10.0, 200
LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): error: ")
SEED_DATA = {path: yaml.safe_load(path.read_text()) for path in SEEDS}

HOSTILE_TEXT = ["a\nb: c", "${{ github.event.issue.title }}", "$[[ inputs.x ]]", "$(curl evil)", "x\u2028y",
                "\u202egnp.exe", "\x00", "\x1b[2J", "'\"", "key: value", "- item", "#", "\r\n", "\ufeff", "é" * 3,
                "🚀", "*alias", "&anchor", "!!python/object:os.system", "{", "[", ">", "|", "%", "@", "`"]
HUGE = [10 ** 30, -(10 ** 30), 1e308, float("inf"), "x" * 20_000, ["x"] * 2_000, {f"k{i}": i for i in range(500)}]
TAGS = ["!!binary", "!!binary ==", "!!int", "!!float", "!!timestamp", "!!set", "!!omap", "!!pairs", "!!python/tuple",
        "!!python/object/apply:os.system", "!custom", "!<tag:yaml.org,2002:str>", "!!str", "!!null", "!!bool"]
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))
MERGE_BOMB = "m0: &m0 {a: 1, b: 2, c: 3}\n" + "".join(
    f"m{i}: &m{i}\n" + "".join(f"  k{j}: {{<<: *m{i - 1}}}\n" for j in range(9)) for i in range(1, 8))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*prefix, index))


def _replace(value, path, new, delete=False):
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        if delete and not rest:
            copy.pop(head, None)
        else:
            copy[head] = _replace(value[head], rest, new, delete)
        return copy
    copy = list(value)
    if delete and not rest:
        del copy[head]
    else:
        copy[head] = _replace(value[head], rest, new, delete)
    return copy


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10, 10 ** 6), st.floats(allow_nan=True),
                    st.text(max_size=40), st.sampled_from(HOSTILE_TEXT), st.sampled_from(HUGE))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=8)


@st.composite
def structural(draw):
    """A seed's data with a few values swapped, deleted or made huge or hostile, dumped as YAML."""
    seed = draw(st.sampled_from(SEEDS))
    data = SEED_DATA[seed]
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(data))[1:] or [()]
        path = draw(st.sampled_from(paths))
        if path and draw(st.booleans()) and draw(st.booleans()):
            data = _replace(data, path, None, delete=True)
        else:
            data = _replace(data, path, draw(values))
    return yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False).encode("utf-8", "surrogatepass")


@st.composite
def textual(draw):
    """A seed's text with something inserted at a line start or after a `key:`, or cut, or doubled."""
    seed = draw(st.sampled_from(SEEDS))
    lines = seed.read_text().splitlines(keepends=True)
    index = draw(st.integers(0, max(0, len(lines) - 1)))
    kind = draw(st.sampled_from(["tag", "alias", "bomb", "merge", "bytes", "truncate", "duplicate", "indent",
                                 "anchor-loop", "hostile"]))
    line = lines[index] if lines else ""
    if kind == "tag" and ": " in line:
        key, _, rest = line.partition(": ")
        lines[index] = f"{key}: {draw(st.sampled_from(TAGS))} {rest}"
    elif kind == "alias" and ": " in line:
        key, _, rest = line.partition(": ")
        lines[index] = f"{key}: &x {rest}"
        lines.insert(min(len(lines), index + draw(st.integers(1, 5))), f"{key.strip() or 'k'}_copy: *x\n")
    elif kind == "bomb":
        lines.append(BOMB)
    elif kind == "merge":
        lines.append(MERGE_BOMB)
    elif kind == "anchor-loop":
        lines.append("loop: &l [*l]\n")
    elif kind == "bytes":
        blob = "".join(lines).encode()
        at = draw(st.integers(0, len(blob)))
        return blob[:at] + draw(st.sampled_from([b"\x00", b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\r", b"\t"])) \
            + blob[at:]
    elif kind == "truncate":
        blob = "".join(lines).encode()
        return blob[:draw(st.integers(0, len(blob)))]
    elif kind == "duplicate" and lines:
        lines.insert(index, line)
    elif kind == "indent" and lines:
        lines[index] = " " * draw(st.integers(1, 3)) + line
    elif ": " in line:
        key, _, _ = line.partition(": ")
        lines[index] = f"{key}: {yaml.safe_dump(draw(st.sampled_from(HOSTILE_TEXT)), default_style=None).split(chr(10))[0]}\n"
    return "".join(lines).encode("utf-8", "surrogatepass")


def _run(main, argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code
    return int(code or 0), out.getvalue(), err.getvalue()


def _check(blob: bytes, directory: Path) -> str:
    policy = directory / "deploy.yml"
    policy.write_bytes(blob)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        code, out, err = _run(cli.main, ["policy", "validate", "--policy", str(policy)])
        outcome = "valid" if code == 0 else "refused"
        if code == 0:
            show = _run(cli.main, ["policy", "show", "--policy", str(policy)])
            assert show[0] == 0, show[2]
            # renders every pipeline file in memory and compares (exit 1: they differ; nothing is written)
            rendered = _run(generate_cli.main, ["--check", "--platform", "all", "--policy", str(policy)])
            assert rendered[0] in (0, 1) and "internal error" not in rendered[2], f"{rendered[2]}\n{blob[:3000]!r}"
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    finally:
        tracemalloc.stop()
    assert "internal error" not in err and "Traceback" not in err, f"{err}\n--- input:\n{blob[:3000]!r}"
    assert code in (0, 2), f"exit {code}\n{err}\n--- input:\n{blob[:3000]!r}"
    if code == 2:
        errors = [line for line in err.splitlines() if ": error: " in line]
        assert errors and all(LOCATED.match(line) for line in errors), f"{err}\n--- input:\n{blob[:3000]!r}"
    assert elapsed < HANG_SECONDS, f"{elapsed:.2f}s for\n{blob[:3000]!r}"
    assert peak < MEGABYTES, f"{peak:.0f} MB for\n{blob[:3000]!r}"
    return outcome


def test_every_mutated_policy_is_valid_or_refused_with_located_errors(tmp_path):
    seen = {"valid": 0, "refused": 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(blob=st.one_of(structural(), textual()))
    def one(blob):
        seen[_check(blob, tmp_path)] += 1

    one()
    total = seen["valid"] + seen["refused"]
    print(f"fuzzed {total} policies: {seen['valid']} valid, {seen['refused']} refused with located errors")
    assert total >= EXAMPLES * 0.9, "the budget was not spent: hypothesis rejected too many inputs"
    assert seen["valid"] > 0 and seen["refused"] > 0, "the mutations were all alike"
