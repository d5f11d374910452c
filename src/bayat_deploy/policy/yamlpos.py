"""YAML loading that keeps where every value came from, within limits a hostile file cannot exceed.

The policy is validated after the standard's defaults are layered under the user's file, so each
value must remember its own file, line and column. We build a small tree of our own
(``Scalar``/``Mapping``/``Sequence``) straight from the parser's events, which is also where the
limits are enforced: a file arrives in a pull request, and loading it must never take a runner down.

Limits (each refused with a located error, exit 2):

* ``MAX_BYTES`` — the file's size, checked before parsing;
* ``MAX_DEPTH`` — nesting of mappings and lists;
* ``MAX_NODES`` — values in the document *after* aliases and merge keys are expanded, counted as they
  are met, so a "billion laughs" file stops at the limit instead of being built;
* tags — only the plain, JSON-compatible ones (``!!str``, ``!!int``, ``!!float``, ``!!bool``, ``!!null``,
  ``!!map``, ``!!seq``); ``!!binary``, ``!!timestamp``, ``!!set``, local tags and the like are refused.
  An unquoted date stays the text it is written as;
* text — UTF-8 only, no NUL bytes, no duplicate keys, keys are plain strings.

With ``strict_text`` (the policy, the ignore file) every string also refuses control characters,
Unicode line/paragraph separators and bidirectional overrides, and the CI platforms' expression
syntaxes (``${{ }}``, ``$[[ ]]``): policy values are data and must never be evaluated by the platform
that runs the generated pipeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import yaml

from bayat_deploy.errors import Diagnostic, PolicyError

try:  # libyaml is 5-10x faster; fall back to the pure-Python parser where it is missing
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 20_000
LIMITS = (f"Limits: at most {MAX_BYTES // 2 ** 20} MiB of UTF-8 text without NUL bytes, nesting at most {MAX_DEPTH} "
          f"levels deep, at most {MAX_NODES} values after aliases and merge keys are expanded; only the tags of "
          "strings, numbers, booleans, null, mappings and lists; no duplicate keys; no control characters, line or "
          "paragraph separators, bidirectional overrides, `${{` or `$[[` in any string.")
TOO_LARGE = f"file too large: over the limit of {MAX_BYTES // 2 ** 20} MiB ({MAX_BYTES} bytes); a policy is far smaller"

_TAG = "tag:yaml.org,2002:"
SCALAR_TAGS = {f"{_TAG}{name}" for name in ("str", "int", "float", "bool", "null")}
COLLECTION_TAGS = {f"{_TAG}map", f"{_TAG}seq"}
# Characters that change how text reads or where a line ends without being visible: C0/C1 controls other
# than tab and newline, line/paragraph separators, bidirectional embeddings/overrides/isolates, BOM.
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")
_EXPRESSIONS = (("${{", "GitHub Actions expression"), ("$[[", "GitLab CI/CD input interpolation"))


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

    def diagnostic(self, message: str, level: str = "error", rule: str = "") -> Diagnostic:
        return Diagnostic(self.file, self.line, self.column, self.path, message, level, rule)


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


def text_problem(text: str) -> str | None:
    """Why a string cannot be a policy value (hidden characters, CI expression syntax), or None."""
    hidden = _HIDDEN.search(text)
    if hidden:
        return (f"the character U+{ord(hidden.group()):04X} is not allowed in a value (control characters, "
                "line separators and bidirectional overrides hide what a reviewer reads)")
    for token, what in _EXPRESSIONS:
        if token in text:
            return (f"{token!r} ({what} syntax) is not allowed: policy values are data, never evaluated by the "
                    "CI platform")
    return None


def load_text(text: str, file: str, *, strict_text: bool = True) -> Node | None:
    """Parse one YAML document into a positioned tree; ``None`` for an empty document."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise PolicyError([Diagnostic(file, 1, 1, "", TOO_LARGE, rule="file")])
    nul = text.find("\0")
    if nul >= 0:
        line, column = _position(text, nul)
        raise PolicyError([Diagnostic(file, line, column, "", "not a text file: a NUL byte here (is it binary?)", rule="file")])
    builder = _Builder(file, strict_text)
    try:
        loader = _Loader(text)
        try:
            root = builder.build(loader)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or "invalid YAML"
        if exc.context:
            problem = f"{problem} ({exc.context})"
        raise PolicyError([Diagnostic(file, line, col, "", f"YAML syntax error: {problem}", rule="yaml")]) from None
    except yaml.reader.ReaderError as exc:
        line, col = _position(text, exc.position) if isinstance(exc.position, int) else (1, 1)
        raise PolicyError([Diagnostic(file, line, col, "", f"YAML error: {exc.reason} "
                                                           f"(character {exc.character!r})", rule="yaml")]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every parser error we know of is one of the above
        raise PolicyError([Diagnostic(file, 1, 1, "", f"YAML error: {exc}", rule="yaml")]) from None
    if builder.errors:
        raise PolicyError([d if d.rule else d._replace(rule="yaml") for d in builder.errors])
    return root


def load_file(path: Path, display: str | None = None, *, strict_text: bool = True) -> Node | None:
    display = display or str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise PolicyError([Diagnostic(display, 1, 1, "", "file not found", rule="file")]) from None
    except IsADirectoryError:
        raise PolicyError([Diagnostic(display, 1, 1, "", "is a directory, not a file", rule="file")]) from None
    except OSError as exc:
        raise PolicyError([Diagnostic(display, 1, 1, "", f"cannot read: {exc.strerror}", rule="file")]) from None
    if len(data) > MAX_BYTES:
        raise PolicyError([Diagnostic(display, 1, 1, "", TOO_LARGE, rule="file")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, column = _position(data[:exc.start].decode("utf-8", "replace"), exc.start)
        raise PolicyError([Diagnostic(display, line, column, "", f"not UTF-8 text: {exc.reason}", rule="file")]) from None
    return load_text(text.removeprefix("\ufeff"), display, strict_text=strict_text)


def _position(text: str, index: int) -> tuple[int, int]:
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


class _TooLarge(Exception):
    """Raised inside the builder when a limit is passed; loading stops at once."""


@dataclass
class _Frame:
    node: Mapping | Sequence
    anchor: str | None
    size: int = 1
    key: tuple[str, Mark] | None = None  # a mapping's key waiting for its value
    merges: list[tuple[Mark, Node]] = field(default_factory=list)


class _Builder:
    """Turns parser events into the positioned tree, counting what aliases and merges expand to."""

    def __init__(self, file: str, strict_text: bool):
        self.file, self.strict_text = file, strict_text
        self.errors: list[Diagnostic] = []
        self.anchors: dict[str, tuple[Node, int]] = {}
        self.stack: list[_Frame] = []
        self.nodes = 0
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.root: Node | None = None
        self.documents = 0

    def build(self, loader) -> Node | None:
        try:
            while loader.check_event():
                self._event(loader.get_event())
        except _TooLarge:
            pass
        return self.root

    # ------------------------------------------------------------------ events
    def _event(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                self._stop(event.start_mark, "", "YAML syntax error: but found another document (expected a single "
                                             "document in the stream)")
        elif isinstance(event, yaml.ScalarEvent):
            self._scalar(event)
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._start(event)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            self._end()

    def _path(self) -> str:
        """The dotted path of the value the next event makes."""
        if not self.stack:
            return ""
        frame = self.stack[-1]
        node = frame.node
        if isinstance(node, Sequence):
            return f"{node.mark.path}[{len(node.items)}]"
        if frame.key is None:
            return node.mark.path
        key, mark = frame.key
        if key is _SKIP:
            return mark.path
        key = "<<" if key is _MERGE else key
        return f"{node.mark.path}.{key}" if node.mark.path else key

    def _count(self, size: int, mark: Any, path: str) -> None:
        self.nodes += size
        if self.nodes > MAX_NODES:
            self._stop(mark, path, f"the document expands to more than {MAX_NODES} values (aliases and merge keys "
                                   "included); a policy is far smaller, so loading stops here")

    def _stop(self, mark: Any, path: str, message: str) -> None:
        self.errors.append(Mark.of(self.file, mark, path).diagnostic(message))
        raise _TooLarge

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        path = self._path()
        self._count(1, event.start_mark, path)
        mark = Mark.of(self.file, event.start_mark, path)
        tag = event.tag
        if tag in (None, "!"):
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if self._is_key_position():
            # A key is the text written: YAML 1.1 would read `on:`/`yes:` as booleans and `1:` as a number.
            value = _MERGE if tag == f"{_TAG}merge" else self._checked_text(event.value, mark)
            self._attach(Scalar(value, mark), 1, event.anchor)
            return
        value = self._construct(event, tag, mark)
        self._attach(Scalar(value, mark), 1, event.anchor)

    def _construct(self, event: yaml.ScalarEvent, tag: str, mark: Mark) -> Any:
        if tag == f"{_TAG}timestamp" and event.tag in (None, "!"):
            return self._checked_text(event.value, mark)  # an unquoted date is the text it is written as
        if tag not in SCALAR_TAGS:
            self.errors.append(mark.diagnostic(f"the YAML tag {_short(tag)} is not allowed; a policy holds only "
                                               "strings, numbers, booleans and null"))
            return None
        if tag == f"{_TAG}str":
            return self._checked_text(event.value, mark)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
        try:
            return self.constructor.construct_object(node, deep=True)
        except (yaml.constructor.ConstructorError, ValueError, KeyError, TypeError, OverflowError):
            self.errors.append(mark.diagnostic(f"{event.value!r} is not a valid {_short(tag)} value"))
            return None

    def _checked_text(self, text: str, mark: Mark) -> str:
        if self.strict_text:
            problem = text_problem(text)
            if problem:
                self.errors.append(mark.diagnostic(problem))
        return text

    def _alias(self, event: yaml.AliasEvent) -> None:
        path = self._path()
        if event.anchor not in self.anchors:  # pragma: no cover - the parser reports unknown anchors first
            self._stop(event.start_mark, path, f"unknown alias *{event.anchor}")
        node, size = self.anchors[event.anchor]
        self._count(size, event.start_mark, path)
        self._attach(node, size, None)

    def _start(self, event: yaml.CollectionStartEvent) -> None:
        path = self._path()
        self._count(1, event.start_mark, path)
        if len(self.stack) >= MAX_DEPTH:
            self._stop(event.start_mark, path, f"nested deeper than {MAX_DEPTH} levels")
        mark = Mark.of(self.file, event.start_mark, path)
        if event.tag not in (None, "!") and event.tag not in COLLECTION_TAGS:
            self.errors.append(mark.diagnostic(f"the YAML tag {_short(event.tag)} is not allowed; a policy holds "
                                               "only plain mappings and lists"))
        if self._is_key_position():
            self.errors.append(mark.diagnostic("mapping keys must be plain strings"))
        node = Mapping(mark) if isinstance(event, yaml.MappingStartEvent) else Sequence(mark)
        self.stack.append(_Frame(node, event.anchor))

    def _end(self) -> None:
        frame = self.stack.pop()
        if isinstance(frame.node, Mapping):
            self._apply_merges(frame)
        self._attach(frame.node, frame.size, frame.anchor)

    # ------------------------------------------------------------------ tree
    def _is_key_position(self) -> bool:
        return bool(self.stack) and isinstance(self.stack[-1].node, Mapping) and self.stack[-1].key is None

    def _attach(self, node: Node, size: int, anchor: str | None) -> None:
        if anchor is not None:
            self.anchors[anchor] = (node, size)
        if not self.stack:
            self.root = node
            return
        frame = self.stack[-1]
        frame.size += size
        parent = frame.node
        if isinstance(parent, Sequence):
            parent.items.append(node)
        elif frame.key is None:
            frame.key = self._key(node, parent)
        else:
            key, key_mark = frame.key
            frame.key = None
            if key is _MERGE:
                frame.merges.append((key_mark, node))
            elif key is not _SKIP:
                parent.entries[key] = (key_mark, node)

    def _key(self, node: Node, parent: Mapping) -> tuple[Any, Mark]:
        if not isinstance(node, Scalar):
            return _SKIP, node.mark  # reported when the collection started
        if node.value is _MERGE:
            return _MERGE, node.mark
        key = node.value if isinstance(node.value, str) else _key_text(node.value)  # an aliased scalar
        path = f"{parent.mark.path}.{key}" if parent.mark.path else key
        key_mark = Mark(node.mark.file, node.mark.line, node.mark.column, path)
        if "\n" in key:
            self.errors.append(key_mark.diagnostic("a key cannot span lines"))
            return _SKIP, key_mark
        if key in parent.entries:
            first = parent.entries[key][0]
            self.errors.append(key_mark.diagnostic(f"duplicate key (first defined at line {first.line})",
                                                   rule="duplicate-key"))
            return _SKIP, key_mark
        return key, key_mark

    def _apply_merges(self, frame: _Frame) -> None:
        """YAML merge keys (`<<: *base`): the mapping's own keys win, then earlier merged mappings."""
        mapping = frame.node
        for key_mark, source in frame.merges:
            sources = source.items if isinstance(source, Sequence) else [source]
            for item in sources:
                if not isinstance(item, Mapping):
                    self.errors.append(key_mark.diagnostic("`<<` merges mappings only (an alias to a mapping, "
                                                           "or a list of them)"))
                    continue
                for key, entry in item.entries.items():
                    mapping.entries.setdefault(key, entry)


_MERGE = object()
_SKIP = object()


def _key_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _short(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
