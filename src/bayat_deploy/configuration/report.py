"""The effective configuration as a table (key / value / source layer), secrets masked."""

from __future__ import annotations

import json
from typing import Any

from bayat_deploy.configuration.hierarchy import Entry, Resolution
from bayat_deploy.configuration.values import is_empty, secret_ref
from bayat_deploy.redact import redact

MASK = "******"
MAX_VALUE = 80


def shown_value(entry: Entry) -> str:
    """What may be printed: references as written (they are not secrets), secrets never."""
    value = entry.value
    if value is None:
        return ""
    if secret_ref(value) is not None:
        return str(value)
    if entry.secret and not is_empty(value):
        return MASK
    text = redact(value if isinstance(value, str) else json.dumps(value))
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def source_of(entry: Entry) -> str:
    setting = entry.setting
    if setting is None:
        return "unset"
    return f"{setting.layer}: {setting.where}"


def rows(resolution: Resolution) -> list[tuple[str, str, str]]:
    return [(entry.name, shown_value(entry), source_of(entry)) for entry in resolution.entries.values()]


def effective(resolution: Resolution) -> dict[str, Any]:
    """The evidence's record of the configuration: each key's printable value and where it came from."""
    result = {}
    for entry in resolution.entries.values():
        setting = entry.setting
        result[entry.name] = {
            "value": shown_value(entry) if setting else None,
            "layer": setting.layer if setting else None,
            "source": setting.source if setting else None,
            "line": setting.location.line if setting and setting.location else None,
            "secret": entry.secret,
            "declared": entry.spec is not None,
            "overrides": [f"{s.layer}: {s.where}" for s in entry.layers[:-1]],
        }
    return result


def markdown_table(headers: tuple[str, ...], body: list[tuple[str, ...]]) -> str:
    def cells(values):
        return "| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ") for v in values) + " |"
    return "\n".join([cells(headers), "|" + "---|" * len(headers)] + [cells(row) for row in body])


def text_table(headers: tuple[str, ...], body: list[tuple[str, ...]]) -> str:
    widths = [max(len(str(v)) for v in column) for column in zip(headers, *body)]
    return "\n".join("  ".join(str(v).ljust(w) for v, w in zip(row, widths)).rstrip()
                     for row in [headers, *body])
