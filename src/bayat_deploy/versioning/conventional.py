"""Conventional Commits 1.0.0: `type(scope)!: description`, an optional body and git-trailer footers.

Case rules of the specification (its rule 15 and 16): types, scopes and footer tokens are not case
sensitive (`Feat:` is `feat:`, `migration:` is `Migration:`), except `BREAKING CHANGE`, which must be
upper case; `BREAKING-CHANGE` means the same. A message that does not follow the format is not an
error: it is "not conventional", ignored for the version bump and listed as another change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bayat_deploy.versioning.versions import Bump

_HEADER = re.compile(r"^(?P<type>[A-Za-z]+)(?:\((?P<scope>[^()\r\n]*[^()\s][^()\r\n]*)\))?(?P<bang>!)?"
                     r": (?P<desc>.*\S.*)$")
# A footer is `Token: value` or `Token #value`; tokens use `-` for spaces, except BREAKING CHANGE.
_FOOTER = re.compile(r"^(?P<token>BREAKING CHANGE|[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)(?P<sep>: | #)(?P<value>.*)$")
BREAKING_TOKENS = ("BREAKING CHANGE", "BREAKING-CHANGE")

BUMP_BY_TYPE = {"feat": Bump.MINOR, "fix": Bump.PATCH, "perf": Bump.PATCH}


@dataclass(frozen=True)
class Footer:
    token: str  # as written
    value: str

    @property
    def key(self) -> str:
        """The token compared case-insensitively (`Migration` == `migration`)."""
        return self.token.lower()

    @property
    def breaking(self) -> bool:
        return self.token in BREAKING_TOKENS


@dataclass(frozen=True)
class ConventionalCommit:
    type: str  # lower case
    scope: str | None
    description: str
    body: str = ""
    footers: tuple[Footer, ...] = ()
    bang: bool = False

    @property
    def breaking(self) -> bool:
        return self.bang or any(f.breaking for f in self.footers)

    @property
    def breaking_notes(self) -> list[str]:
        """What breaks: the BREAKING CHANGE footers, or the description when only `!` says so."""
        notes = [f.value for f in self.footers if f.breaking and f.value.strip()]
        return notes or ([self.description] if self.bang else [])

    def footer_values(self, token: str) -> list[str]:
        return [f.value for f in self.footers if f.key == token.lower()]

    @property
    def bump(self) -> Bump:
        if self.breaking:
            return Bump.MAJOR
        return BUMP_BY_TYPE.get(self.type, Bump.NONE)

    @property
    def title(self) -> str:
        return f"{self.type}{f'({self.scope})' if self.scope else ''}{'!' if self.bang else ''}: {self.description}"


def parse(message: str) -> ConventionalCommit | None:
    """The commit message as a Conventional Commit, or None when its first line does not follow the format."""
    lines = message.replace("\r\n", "\n").strip("\n").split("\n")
    header = _HEADER.match(lines[0].strip()) if lines else None
    if header is None:
        return None
    rest = lines[1:]
    while rest and not rest[0].strip():
        rest = rest[1:]
    body_lines, footers = _split_footers(rest)
    return ConventionalCommit(
        type=header["type"].lower(), scope=header["scope"].strip() if header["scope"] else None,
        description=header["desc"].strip(), body="\n".join(body_lines).strip(), footers=footers,
        bang=bool(header["bang"]))


def _split_footers(lines: list[str]) -> tuple[list[str], tuple[Footer, ...]]:
    """Body lines and footers. Footers start at the first paragraph that opens with a footer token and run
    to the end; a line that opens no footer continues the previous value (values may span lines and
    paragraphs, so a multi-paragraph BREAKING CHANGE text is never lost)."""
    block = next((i for i, line in enumerate(lines)
                  if (i == 0 or not lines[i - 1].strip()) and _FOOTER.match(line)), len(lines))
    footers: list[list[str]] = []
    for line in lines[block:]:
        match = _FOOTER.match(line)
        if match:
            value = match["value"] if match["sep"] == ": " else "#" + match["value"]
            footers.append([match["token"], value])
        else:
            footers[-1][1] += "\n" + line
    return lines[:block], tuple(Footer(token, value.strip()) for token, value in footers)


@dataclass(frozen=True)
class ParsedCommit:
    """A commit of the history with its conventional reading (None when not conventional)."""

    sha: str
    subject: str
    conventional: ConventionalCommit | None = field(default=None)

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def bump(self) -> Bump:
        return self.conventional.bump if self.conventional else Bump.NONE

    def to_json(self) -> dict:
        c = self.conventional
        return {"sha": self.sha, "subject": self.subject, "conventional": c is not None,
                "type": c.type if c else None, "scope": c.scope if c else None,
                "breaking": bool(c and c.breaking), "bump": self.bump.label}


def parse_commit(sha: str, message: str) -> ParsedCommit:
    subject = message.strip().split("\n", 1)[0].strip() if message.strip() else ""
    return ParsedCommit(sha, subject, parse(message))
