"""Every rule a policy diagnostic can name: the checks of the reader and converter, then the semantic rules.

docs/errors.md is rendered from this list (scripts/render-docs), and a test keeps each diagnostic's rule in it.
"""

from __future__ import annotations

# Checks made while the file is read and converted, before any semantic rule runs.
READING = {
    "file": "The policy file can be read: it exists, is a file, is UTF-8 text without NUL bytes and under 1 MiB.",
    "yaml": "The file is YAML a policy may hold: valid syntax, no tags, no multi-line keys, merges of mappings only,"
            " and not expanding to a document far larger than it is written.",
    "duplicate-key": "No key is written twice in one mapping (YAML would silently keep the last).",
    "shape": "The policy is a mapping with at least `project: <name>`.",
    "unknown-key": "Every key is one the model knows; a near miss is suggested (`enviroments` -> `environments`).",
    "required-key": "Keys without a default are present (a `type` for a tagged value, a `tier` for a new"
                    " environment).",
    "type": "A value has the type its field expects (a mapping, a list, a number, true or false, a string).",
    "one-of": "A value is one of the field's allowed values; the nearest one is suggested.",
    "format": "A string matches its field's format (names, durations, cron lines, versions, references) and is"
              " one line unless the field allows more.",
    "range": "A number is within its field's minimum and maximum; a list has at least its minimum of items.",
    "unique": "A list that must not repeat an item does not.",
    "standard-environments-stay": "development, testing, staging and production cannot be removed (their"
                                  " settings can change).",
}


def rules() -> list[tuple[str, str]]:
    """(id, what it asks for) for every rule, reading checks first, then the semantic rules in the order they
    run."""
    from bayat_deploy.policy.rules import RULES, rule_id

    semantic = [(rule_id(rule), " ".join(rule.__doc__.split())) for rule in RULES]
    return [*READING.items(), *semantic]


def known(rule: str) -> bool:
    return any(rule == name for name, _ in rules())
