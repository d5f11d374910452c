"""``f(...)``: a dataclass field with the documentation and constraints the schema and validator share."""

from __future__ import annotations

import copy
from dataclasses import MISSING, field
from typing import Any


def f(doc: str, default: Any = MISSING, **constraints: Any) -> Any:
    """Declare a policy field.

    ``doc`` becomes the JSON Schema description (what editors show on hover). ``constraints`` are
    ``minimum``, ``maximum``, ``pattern``, ``min_items``, ``unique`` and ``examples``; the converter
    enforces them and the schema publishes them, so the two can never disagree.
    """
    metadata = {"doc": doc, **constraints}
    if default is MISSING:
        return field(metadata=metadata)
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)
