"""Turning a positioned YAML tree into the typed policy, collecting every error with its position.

The walk is driven by the model's type hints, so adding a field to a dataclass is all it takes for
the field to be parsed, validated, shown by `policy show` and published in the JSON Schema.
"""

from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass, field
from typing import Any

from bayat_deploy.errors import Diagnostic
from bayat_deploy.policy import introspect as it
from bayat_deploy.policy.yamlpos import Mapping, Mark, Node, Scalar, Sequence, plain

class _Invalid:
    """Stands in for a value that failed to convert, so the rest of the policy can still be checked.

    Any use of it that would decide something (truth, iteration, attributes) raises, and the rule
    that tried is skipped: a rule never reports on a value that is already known to be wrong.
    """

    def __bool__(self):
        raise TypeError("invalid value")

    def __iter__(self):
        raise TypeError("invalid value")

    def __len__(self):
        raise TypeError("invalid value")

    def __lt__(self, other):
        raise TypeError("invalid value")

    __gt__ = __le__ = __ge__ = __lt__

    def __repr__(self) -> str:
        return "<invalid>"


INVALID = _Invalid()


@dataclass
class Context:
    """Errors found so far, and where every converted value came from (for the semantic rules)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    marks: dict[str, Mark] = field(default_factory=dict)

    def error(self, mark: Mark, message: str, rule: str = "type") -> object:
        """Record an error at ``mark``; the dotted path printed is where the value is written."""
        self.diagnostics.append(mark.diagnostic(message, rule=rule))
        return INVALID

    def mark_of(self, path: str) -> Mark | None:
        """The position of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.marks:
                return self.marks[path]
            path = _parent(path)
        return self.marks.get("")


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(node: Node) -> str:
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    value = node.value
    if value is None:
        return "nothing (null)"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(type(value), "a value")


def _describe(tp: Any) -> str:
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp in (int, float):
        return "a number"
    values = it.literal_values(tp)
    if values:
        return "one of " + ", ".join(repr(v) for v in values)
    origin = typing.get_origin(tp)
    if origin is tuple:
        return "a list"
    if origin is dict or it.is_model(tp):
        return "a mapping"
    if it.is_scalar_class(tp):
        return (tp.__doc__ or tp.__name__).split(":")[0].strip().rstrip(".").lower()
    return "a value"


def convert(tp: Any, node: Node, path: str, ctx: Context, meta: dict | None = None) -> Any:
    ctx.marks.setdefault(path, node.mark)
    meta = meta or {}
    if tp is Any:
        return plain(node)

    if it.is_union(tp):
        return _convert_union(tp, node, path, ctx, meta)
    if it.is_model(tp):
        if isinstance(node, Scalar) and node.value is None:  # `scan:` with nothing under it keeps the defaults
            node = Mapping(node.mark)
        return _convert_model(tp, node, path, ctx)
    origin = typing.get_origin(tp)
    if origin is tuple:
        return _convert_list(typing.get_args(tp)[0], node, path, ctx, meta)
    if origin is dict:
        return _convert_dict(typing.get_args(tp)[1], node, path, ctx, meta)
    if not isinstance(node, Scalar):
        return ctx.error(node.mark, f"expected {_describe(tp)}, got {_kind(node)}")
    return _convert_scalar(tp, node, path, ctx, meta)


def _convert_scalar(tp: Any, node: Scalar, path: str, ctx: Context, meta: dict) -> Any:
    value = node.value
    values = it.literal_values(tp)
    if values is not None:
        if value in values:
            return value
        hint = difflib.get_close_matches(str(value), [str(v) for v in values], n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return ctx.error(node.mark, f"{value!r} is not one of {', '.join(map(str, values))}{suggestion}", "one-of")
    if it.is_scalar_class(tp):
        if value is None:
            return ctx.error(node.mark, f"expected {_describe(tp)}, got nothing (null)")
        try:
            return tp.parse(value)
        except ValueError as exc:
            return ctx.error(node.mark, str(exc), "format")
    if tp is bool:
        if isinstance(value, bool):
            return value
        return ctx.error(node.mark, f"expected true or false, got {_kind(node)} {value!r}")
    if tp in (int, float):
        ok = isinstance(value, int) and not isinstance(value, bool)
        if tp is float:
            ok = ok or isinstance(value, float)
        if not ok:
            return ctx.error(node.mark, f"expected {'a whole number' if tp is int else 'a number'}, "
                                              f"got {_kind(node)} {value!r}")
        return _check_range(tp(value), node, path, ctx, meta)
    if tp is str:
        if isinstance(value, bool) or value is None or isinstance(value, (list, dict)):
            return ctx.error(node.mark, f"expected a string, got {_kind(node)}")
        text = value if isinstance(value, str) else str(value)
        if "\n" in text and not meta.get("multiline"):
            return ctx.error(node.mark, "must be a single line (it is shown in reports and generated pipelines)",
                             "format")
        pattern = meta.get("pattern")
        if pattern and not _regex(pattern).fullmatch(text):
            rule = meta.get("pattern_hint") or f"it must match {pattern}"
            return ctx.error(node.mark, f"{text!r} is not valid: {rule}", "format")
        return text
    return ctx.error(node.mark, f"unsupported type {tp!r}")  # pragma: no cover - a model bug


# Constraints of a list or mapping field that apply to each of its items (a pattern on `branches` is
# the pattern of every branch).
ITEM_CONSTRAINTS = ("pattern", "pattern_hint", "multiline")


def _regex(pattern: str):
    import re

    return re.compile(pattern)


def _check_range(number: float, node: Node, path: str, ctx: Context, meta: dict) -> Any:
    low, high = meta.get("minimum"), meta.get("maximum")
    if low is not None and number < low:
        return ctx.error(node.mark, f"{number} is below the minimum {low}", "range")
    if high is not None and number > high:
        return ctx.error(node.mark, f"{number} is above the maximum {high}", "range")
    return number


def _convert_union(tp: Any, node: Node, path: str, ctx: Context, meta: dict) -> Any:
    members, optional = it.union_members(tp)
    if isinstance(node, Scalar) and node.value is None:
        if optional:
            return None
    tagged = it.tagged_members(tp)
    if tagged:
        return _convert_tagged(tagged, node, path, ctx)
    if len(members) == 1:
        return convert(members[0], node, path, ctx, meta)
    # Untagged union of scalars: the first member that accepts the value wins.
    messages = []
    for member in members:
        trial = Context(marks=ctx.marks)
        result = convert(member, node, path, trial, meta)
        if result is not INVALID:
            return result
        messages.extend(d.message for d in trial.diagnostics)
    if any(it.literal_values(m) is None and m in (str, int, float, bool) for m in members) and len(messages) > 1:
        wanted = " or ".join(_describe(m) for m in members)
        return ctx.error(node.mark, f"expected {wanted}, got {_kind(node)}")
    return ctx.error(node.mark, "; or ".join(dict.fromkeys(messages)))


def _convert_tagged(tagged: dict[str, type], node: Node, path: str, ctx: Context) -> Any:
    if not isinstance(node, Mapping):
        return ctx.error(node.mark, f"expected a mapping with a `type` ({', '.join(tagged)}), "
                                          f"got {_kind(node)}")
    type_node = node.get("type")
    if type_node is None:
        return ctx.error(node.mark, f"missing `type`: one of {', '.join(tagged)}", "required-key")
    tag = type_node.value if isinstance(type_node, Scalar) else None
    if tag not in tagged:
        hint = difflib.get_close_matches(str(tag), list(tagged), n=1)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return ctx.error(type_node.mark, f"{tag!r} is not one of {', '.join(tagged)}{suggestion}", "one-of")
    return _convert_model(tagged[tag], node, path, ctx)


def _convert_list(item_tp: Any, node: Node, path: str, ctx: Context, meta: dict) -> Any:
    if isinstance(node, Scalar) and node.value is None:
        node = Sequence(node.mark)
    if not isinstance(node, Sequence):
        return ctx.error(node.mark, f"expected a list, got {_kind(node)}")
    item_meta = {key: meta[key] for key in ITEM_CONSTRAINTS if key in meta}
    items = [convert(item_tp, item, f"{path}[{i}]", ctx, item_meta) for i, item in enumerate(node.items)]
    if any(item is INVALID for item in items):
        return tuple(items)  # already reported; kept so sibling values can still be checked
    if meta.get("min_items") and len(items) < meta["min_items"]:
        return ctx.error(node.mark, f"needs at least {meta['min_items']} item(s)", "range")
    if meta.get("unique"):
        seen = set()
        for i, item in enumerate(items):
            if item in seen:
                return ctx.error(node.items[i].mark, f"{item!s} is listed twice", "unique")
            seen.add(item)
    return tuple(items)


def _convert_dict(value_tp: Any, node: Node, path: str, ctx: Context, meta: dict) -> Any:
    if isinstance(node, Scalar) and node.value is None:
        node = Mapping(node.mark)
    if not isinstance(node, Mapping):
        return ctx.error(node.mark, f"expected a mapping, got {_kind(node)}")
    item_meta = {key: meta[key] for key in ITEM_CONSTRAINTS if key in meta}
    result = {}
    for key, (key_mark, child) in node.entries.items():
        ctx.marks.setdefault(_join(path, key), key_mark)
        result[key] = convert(value_tp, child, _join(path, key), ctx, item_meta)
    return result


def _convert_model(cls: type, node: Node, path: str, ctx: Context) -> Any:
    if not isinstance(node, Mapping):
        return ctx.error(node.mark, f"expected a mapping, got {_kind(node)}")
    fields = it.fields_of(cls)
    names = [fld.name for fld, _ in fields]
    for key, (key_mark, _) in node.entries.items():
        if key not in names:
            ctx.error(key_mark, f"unknown key {key!r}{_suggest(cls, key, names)}", "unknown-key")
    values = {}
    for fld, tp in fields:
        child = node.get(fld.name)
        child_path = _join(path, fld.name)
        if child is None:
            if not it.has_default(fld):
                values[fld.name] = ctx.error(node.mark.child(fld.name), f"required key {fld.name!r} is missing",
                                             "required-key")
            continue
        ctx.marks[child_path] = node.entries[fld.name][0]
        values[fld.name] = convert(tp, child, child_path, ctx, dict(fld.metadata))
    return cls(**values)


def _suggest(cls: type, key: str, names: list[str]) -> str:
    hint = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if hint:
        return f" (did you mean {hint[0]!r}?)"
    # A key that belongs one level down, e.g. `strategy:` written at the top instead of under `defaults:`.
    for section, nested in getattr(cls, "NESTED_KEYS", {}).items():
        nested_names = [fld.name for fld, _ in it.fields_of(nested)]
        hint = difflib.get_close_matches(key, nested_names, n=1, cutoff=0.75)
        if hint:
            return f" (did you mean `{section}.{hint[0]}`? it is an environment setting)"
    return f"; known keys: {', '.join(names)}"
