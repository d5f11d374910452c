"""Reading the layers of the configuration hierarchy, each value with where it was written.

Files are YAML (`.yml`/`.yaml`), JSON (`.json`) or dotenv (`.env`, `*.env`, `.env.*`); nested mappings
become dotted keys (`database: {url: ...}` is `database.url`). Environment variables come from the run
context, never from `os.environ`. The configuration service is read over HTTP.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from bayat_deploy.errors import BadInput, PolicyError

LAYERS = ("default", "file", "env", "service")


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Setting:
    """One value as one layer states it."""

    key: str  # as written in that layer (a dotted path for nested files)
    value: Any
    layer: str  # default | file | env | service
    source: str  # the policy field, the file, the variable, or the service URL
    location: Location | None = None

    @property
    def where(self) -> str:
        if self.location:
            return f"{self.location.file}:{self.location.line}"
        return self.source


@dataclass(frozen=True)
class SourceError:
    """A layer that could not be read: a broken file, an unreachable service."""

    source: str
    message: str
    location: Location | None = None
    key: str = ""


def file_format(path: str) -> str:
    name = Path(path).name.lower()
    if name.endswith((".yml", ".yaml")):
        return "yaml"
    if name.endswith(".json"):
        return "json"
    if name == ".env" or name.endswith(".env") or name.startswith(".env."):
        return "dotenv"
    raise BadInput(f"config.files: cannot tell the format of {path!r}: name it .yml, .yaml, .json or .env")


def read_file(path: Path, display: str, env_prefix: str) -> tuple[list[Setting], list[SourceError]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not UTF-8 text ({exc.reason})"
        return [], [SourceError(display, f"cannot read: {reason}", Location(display, 1, 1))]
    kind = file_format(display)
    if kind == "dotenv":
        return _dotenv(text, display, env_prefix)
    if kind == "json":
        return _json(text, display)
    return _yaml(text, display)


def _json(text: str, display: str) -> tuple[list[Setting], list[SourceError]]:
    """Values as JSON reads them; lines from reading the same text as YAML (a JSON document is YAML)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [SourceError(display, f"invalid JSON: {exc.msg}", Location(display, exc.lineno, exc.colno))]
    if not isinstance(data, dict):
        return [], [SourceError(display, "a configuration file must be a JSON object of keys to values",
                                Location(display, 1, 1))]
    positioned, problems = _yaml(text, display)
    where = {} if problems else {s.key: s.location for s in positioned}
    settings: list[Setting] = []
    _flatten_plain(data, "", "file", display, settings)
    return [Setting(s.key, s.value, "file", display, where.get(s.key, Location(display, 1, 1)))
            for s in settings], []


def _yaml(text: str, display: str) -> tuple[list[Setting], list[SourceError]]:
    """YAML with positions; JSON goes the same way (a JSON document is YAML) so its keys get lines too."""
    from bayat_deploy.policy.yamlpos import Mapping as Node, load_text

    try:
        root = load_text(text, display, strict_text=False)
    except PolicyError as exc:
        return [], [SourceError(display, d.message, Location(d.file, d.line, d.column), d.path)
                    for d in exc.diagnostics]
    if root is None:
        return [], []
    if not isinstance(root, Node):
        return [], [SourceError(display, "a configuration file must be a mapping of keys to values",
                                Location(display, root.mark.line, root.mark.column))]
    settings: list[Setting] = []
    _flatten_nodes(root, "", display, settings)
    return settings, []


def _flatten_nodes(node, prefix: str, display: str, out: list[Setting]) -> None:
    from bayat_deploy.policy.yamlpos import Mapping as Node, plain

    for key, (_, value) in node.entries.items():
        name = f"{prefix}{key}"
        if isinstance(value, Node) and value.entries:
            _flatten_nodes(value, f"{name}.", display, out)
        else:
            out.append(Setting(name, plain(value), "file", display,
                               Location(display, value.mark.line, value.mark.column)))


_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*?)\s*$")


def _dotenv(text: str, display: str, env_prefix: str) -> tuple[list[Setting], list[SourceError]]:
    settings, errors = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if not match:
            errors.append(SourceError(display, "expected KEY=VALUE", Location(display, number, 1)))
            continue
        name, raw = match.groups()
        if env_prefix and name.startswith(env_prefix) and len(name) > len(env_prefix):
            name = name[len(env_prefix):]
        value, problem = _dotenv_value(raw)
        column = match.start(2) + 1
        if problem:
            errors.append(SourceError(display, f"{name}: {problem}", Location(display, number, column)))
            continue
        settings.append(Setting(name, value, "file", display, Location(display, number, column)))
    return settings, errors


def _dotenv_value(raw: str) -> tuple[str, str | None]:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = raw.find(quote, 1)
        while quote == '"' and end > 0 and raw[end - 1] == "\\":
            end = raw.find(quote, end + 1)
        if end < 0:
            return "", f"unterminated {quote} quote"
        inner = raw[1:end]
        if quote == '"':
            inner = inner.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        return inner, None
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip(), None


def from_environment(env: Mapping[str, str], prefix: str, declared: Mapping[str, str]) -> list[Setting]:
    """Variables named prefix + key. With an empty prefix only declared keys are read, never the whole
    environment. `declared` maps normal names to the policy's spelling."""
    settings = []
    for name in sorted(env):
        if prefix:
            if not name.startswith(prefix) or len(name) == len(prefix):
                continue
            key = name[len(prefix):]
        else:
            if name not in declared:
                continue
            key = name
        settings.append(Setting(key, env[name], "env", name))
    return settings


def from_service(url: str, environment: str, token: str | None, timeout: float
                 ) -> tuple[list[Setting], list[SourceError]]:
    """GET {url}/{environment}: a JSON object of keys (nested objects become dotted keys)."""
    import urllib.error
    import urllib.request

    address = f"{url.rstrip('/')}/{environment}"
    headers = {"Accept": "application/json", "User-Agent": "bayat-deploy"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(address, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) URL from policy
            body = response.read()
    except urllib.error.HTTPError as exc:
        return [], [SourceError(address, f"the configuration service answered HTTP {exc.code} {exc.reason}")]
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return [], [SourceError(address, f"the configuration service is unreachable: {reason}")]
    try:
        data = json.loads(body)
    except ValueError:
        return [], [SourceError(address, "the configuration service did not answer with JSON")]
    if not isinstance(data, dict):
        return [], [SourceError(address, "the configuration service must answer with a JSON object of keys")]
    settings: list[Setting] = []
    _flatten_plain(data, "", "service", address, settings)
    return settings, []


def _flatten_plain(data: dict, prefix: str, layer: str, source: str, out: list[Setting]) -> None:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            _flatten_plain(value, f"{name}.", layer, source, out)
        else:
            out.append(Setting(name, value, layer, source))
