"""``f(...)``: a dataclass field with the documentation and constraints the schema and validator share."""

from __future__ import annotations

import copy
from dataclasses import MISSING, field
from typing import Any


# A branch or tag name, or a glob of them (GitHub's filter patterns, GitLab's rules): what `git
# check-ref-format` allows, narrowed to characters that need no quoting in YAML, shells or regexes.
REF_PATTERN = r"^(?![-/.])(?!.*\.\.)(?!.*//)[A-Za-z0-9._/*?+-]+(?<![/.])$"
REF_HINT = ("a branch or tag name or glob: letters, digits and . _ / - + with * and ? as wildcards "
            "(not starting with - / . , no .. or //)")
# One branch's name (no wildcards).
BRANCH_PATTERN = r"^(?![-/.])(?!.*\.\.)(?!.*//)[A-Za-z0-9._/+-]+(?<![/.])$"
BRANCH_HINT = "a branch name: letters, digits and . _ / - + (not starting with - / . , no .. or //)"
# A path inside the repository that the generated pipelines name (artifact paths).
RELATIVE_PATH = r"^(?!/)(?!(.*/)?\.\.(/|$))[A-Za-z0-9._/@+-]+$"
RELATIVE_PATH_HINT = "a relative path inside the repository: letters, digits and . _ / @ + - (no ..)"
# A directory on a runner or host ({project}/{environment} placeholders and ~ allowed); it is written into
# router configuration and commands, so nothing a shell or config parser would read as syntax.
STATE_DIR = r"^[A-Za-z0-9._/~{}@+-]+$"
STATE_DIR_HINT = "a directory path: letters, digits and . _ / ~ { } @ + -"
# The path (and query) part of a URL on the environment: RFC 3986 path characters, starting with /.
URL_PATH = r"^/[A-Za-z0-9._~!&'()*+,;=:@%/?-]*$"
URL_PATH_HINT = "a URL path starting with / (RFC 3986 characters; percent-encode the rest)"
# A runner label, runner group or GitLab runner tag.
RUNNER_LABEL = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
RUNNER_LABEL_HINT = "letters, digits and . _ - (e.g. self-hosted, linux, prod-docker-host)"
# A host name or IP address (IPv6 in brackets).
HOST = r"^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])$"
HOST_HINT = "a host name or IP address ([::1] for IPv6)"


def f(doc: str, default: Any = MISSING, **constraints: Any) -> Any:
    """Declare a policy field.

    ``doc`` becomes the JSON Schema description (what editors show on hover). ``constraints`` are
    ``minimum``, ``maximum``, ``pattern`` (matched against the whole value; on a list or mapping, against
    each item), ``min_items``, ``unique``, ``multiline`` (strings are one line unless this is set) and
    ``examples``; the converter enforces them and the schema publishes them, so the two can never disagree.
    """
    metadata = {"doc": doc, **constraints}
    if default is MISSING:
        return field(metadata=metadata)
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=metadata)
    return field(default=default, metadata=metadata)
