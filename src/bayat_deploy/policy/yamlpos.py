"""YAML loading that keeps where every value came from.

The policy is validated after the standard's defaults are layered under the user's file, so each
value must remember its own file, line and column; PyYAML's composed node tree has exactly that.
We convert it into a small tree of our own (``Scalar``/``Mapping``/``Sequence``) that the merge and
the typed conversion both walk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from bayat_deploy.errors import Diagnostic, PolicyError

try:  # libyaml is 5-10x faster; fall back to the pure-Python loader where it is missing
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class Mark:
    """Where a value is written: file, 1-based line and column, and its dotted path in that file."""

    file: str
    line: int
    column: int
    path: str = ""

    @classmethod
    def of(cls, file: str, mark: Any, path: str) -> "Mark":
        return cls(file, mark.line + 1, mark.column + 1, path)

    def child(self, key: str) -> "Mark":
        """The same place, naming a key that should be (but is not) written under it."""
        return Mark(self.file, self.line, self.column, f"{self.path}.{key}" if self.path else key)

    def diagnostic(self, message: str, level: str = "error") -> Diagnostic:
        return Diagnostic(self.file, self.line, self.column, self.path, message, level)


@dataclass
class Scalar:
    value: Any
    mark: Mark


@dataclass
class Mapping:
    mark: Mark
    # key -> (where the key is written, value node)
    entries: dict[str, tuple[Mark, "Node"]] = field(default_factory=dict)

    def get(self, key: str) -> "Node | None":
        entry = self.entries.get(key)
        return entry[1] if entry else None


@dataclass
class Sequence:
    mark: Mark
    items: list["Node"] = field(default_factory=list)


Node = Union[Scalar, Mapping, Sequence]


def plain(node: Node) -> Any:
    """The node as ordinary Python data, positions dropped."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Sequence):
        return [plain(item) for item in node.items]
    return {key: plain(value) for key, (_, value) in node.entries.items()}


def load_text(text: str, file: str) -> Node | None:
    """Parse one YAML document into a positioned tree; ``None`` for an empty document."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise PolicyError([Diagnostic(file, line, col, "", f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as exc:  # e.g. a document stream with more than one document
        raise PolicyError([Diagnostic(file, 1, 1, "", f"YAML error: {exc}")]) from None
    if root is None:
        return None
    errors: list[Diagnostic] = []
    tree = _convert(root, file, _constructor(), errors, path="")
    if errors:
        raise PolicyError(errors)
    return tree


def load_file(path: Path, display: str | None = None) -> Node | None:
    display = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError([Diagnostic(display, 1, 1, "", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise PolicyError([Diagnostic(display, 1, 1, "", f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise PolicyError([Diagnostic(display, 1, 1, "", f"cannot read: {exc.strerror}")]) from None
    return load_text(text, display)


def _constructor() -> yaml.constructor.SafeConstructor:
    return yaml.constructor.SafeConstructor()


def _convert(node: yaml.Node, file: str, ctor, errors: list[Diagnostic], path: str) -> Node:
    mark = Mark.of(file, node.start_mark, path)
    if isinstance(node, yaml.ScalarNode):
        try:
            value = ctor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            errors.append(mark.diagnostic(f"bad value: {exc.problem}"))
            value = None
        return Scalar(value, mark)
    if isinstance(node, yaml.SequenceNode):
        return Sequence(mark, [_convert(item, file, ctor, errors, f"{path}[{i}]") for i, item in enumerate(node.value)])
    # mapping: resolve YAML merge keys (<<) first, as the safe loader would
    ctor.flatten_mapping(node)
    result = Mapping(mark)
    for key_node, value_node in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            errors.append(Mark.of(file, key_node.start_mark, path).diagnostic("mapping keys must be plain strings"))
            continue
        key = ctor.construct_object(key_node)
        if not isinstance(key, str):
            # YAML 1.1 reads `on:`/`yes:` as booleans and `1:` as an int; a policy key is always text.
            key = key_node.value
        child = f"{path}.{key}" if path else key
        key_mark = Mark.of(file, key_node.start_mark, child)
        if key in result.entries:
            first = result.entries[key][0]
            errors.append(key_mark.diagnostic(f"duplicate key (first defined at line {first.line})"))
            continue
        result.entries[key] = (key_mark, _convert(value_node, file, ctor, errors, child))
    return result
