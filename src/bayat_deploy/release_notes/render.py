"""Release notes as Markdown (for people) and JSON (for tools); both carry every section, in order."""

from __future__ import annotations

import json

from bayat_deploy.release_notes.collect import ReleaseNotes, Section
from bayat_deploy.release_notes.configdiff import ConfigChange

MAX_ROWS = 100  # long tables (a first release's whole lock file) are cut here; the JSON has them all
EMPTY = "_Nothing recorded._"


def to_json(notes: ReleaseNotes) -> str:
    return json.dumps(notes.to_json(), indent=2) + "\n"


def to_markdown(notes: ReleaseNotes) -> str:
    out = [f"# {notes.project} {notes.version}", ""]
    for section in notes.sections.values():
        body = RENDERERS[section.name](section, notes).strip()
        out += [f"## {section.title}", "", body or EMPTY, ""]
    if notes.other_changes:
        out += ["## Other changes", "", *(_change_line(e) for e in notes.other_changes), ""]
    return "\n".join(out)


def _cell(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text.replace("|", "\\|").replace("\n", " ") if text else ""


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines.append(f"\n_... and {len(rows) - MAX_ROWS} more (see the JSON notes)._")
    return "\n".join(lines)


def _none(section: Section) -> str:
    return f"None ({section.note})." if section.note else "None."


def _empty(section: Section) -> str:
    return f"{EMPTY[:-2]}: {section.note}._" if section.note else EMPTY


def _change_line(entry: dict) -> str:
    scope = f"**{entry['scope']}:** " if entry.get("scope") else ""
    kind = f"`{entry['type']}` " if entry.get("type") and entry["type"] not in ("feat", "fix") else ""
    mark = " **BREAKING**" if entry.get("breaking") else ""
    return f"- {kind}{scope}{entry['description']} ({entry['sha'][:7]}){mark}"


def _changes(section: Section, _notes) -> str:
    return "\n".join(_change_line(e) for e in section.content) if section.content else _empty(section)


def _text(section: Section, _notes) -> str:
    return str(section.content)


def _version(section: Section, notes: ReleaseNotes) -> str:
    v = section.content
    since = f"`{v['since']}`..`{notes.head[:7]}`" if v["since"] else f"the whole history up to `{notes.head[:7]}`"
    commits = f"{v['commits']} commit{'' if v['commits'] == 1 else 's'}"
    return _table(["item", "value"], [["Version", f"**{v['version']}** (tag {v['tag']})"],
                                      ["Previous release", v["previous_version"] or "none (first release)"],
                                      ["Commit", notes.head], ["Changes", f"{commits}, {since}"]])


def _known_issues(section: Section, _notes) -> str:
    if section.none:
        return _none(section)
    return "\n".join(f"- {item}" for item in section.content) if section.content else _empty(section)


def _dependencies(section: Section, _notes) -> str:
    changes = section.content["changes"]
    if not changes:
        return _none(section) if section.none else _empty(section)
    rows = [[c["change"], f"`{c['name']}`", c["before"] or "", c["after"] or "", c["file"]] for c in changes]
    problems = "".join(f"\n\n_Not read: {p}_" for p in section.content["problems"])
    return _table(["change", "package", "from", "to", "lock file"], rows) + problems


def _configuration(section: Section, _notes) -> str:
    changes = section.content["changes"]
    if not changes:
        return _none(section) if section.none else _empty(section)
    rows = []
    for data in changes:
        change = ConfigChange(**{**data, "environments": tuple(data["environments"])})
        before = change.shown(change.before) if change.change != "added" else ""
        after = change.shown(change.after) if change.change != "removed" else ""
        where = ", ".join(change.environments) if change.environments else "policy"
        rows.append([change.change, f"`{change.key}`", before, after, change.file, where])
    problems = "".join(f"\n\n_Not read: {p}_" for p in section.content["problems"])
    return _table(["change", "key", "from", "to", "file", "applies to"], rows) + problems


def _migration(section: Section, _notes) -> str:
    if section.none:
        return _none(section)
    if not section.content:
        return _empty(section)
    lines = []
    for number, step in enumerate(section.content, 1):
        label = "Breaking change: " if step["source"] == "BREAKING CHANGE" else ""
        text = step["step"].replace("\n", "\n   ")
        lines.append(f"{number}. {label}{text} ({step['sha'][:7]})")
    return "\n".join(lines)


def _rollback(section: Section, _notes) -> str:
    plan = section.content
    return f"{plan['plan']}\n\n```sh\n{plan['command']}\n```"


RENDERERS = {"summary": _text, "version": _version, "date": _text, "features": _changes, "bug_fixes": _changes,
             "known_issues": _known_issues, "dependencies": _dependencies,
             "configuration_changes": _configuration, "migration_steps": _migration, "rollback_plan": _rollback}
