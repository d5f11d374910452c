"""Conventional Commits 1.0.0 parsing: header, body, footers and the specification's case rules."""

from __future__ import annotations

import pytest

from bayat_deploy.versioning.conventional import parse
from bayat_deploy.versioning.versions import Bump


@pytest.mark.parametrize("message, kind, scope, bang, description, bump", [
    ("feat: add search", "feat", None, False, "add search", Bump.MINOR),
    ("fix(api): handle empty body", "fix", "api", False, "handle empty body", Bump.PATCH),
    ("perf(db)!: drop the cache", "perf", "db", True, "drop the cache", Bump.MAJOR),
    ("Feat: capitalised type", "feat", None, False, "capitalised type", Bump.MINOR),
    ("FIX(Core): shouting", "fix", "Core", False, "shouting", Bump.PATCH),
    ("docs: readme", "docs", None, False, "readme", Bump.NONE),
    ("chore(deps)!: drop python 3.9", "chore", "deps", True, "drop python 3.9", Bump.MAJOR),
    ("refactor(a b): scope with a space", "refactor", "a b", False, "scope with a space", Bump.NONE),
    ("feat: description: with colon", "feat", None, False, "description: with colon", Bump.MINOR),
])
def test_header(message, kind, scope, bang, description, bump):
    commit = parse(message)
    assert commit is not None
    assert (commit.type, commit.scope, commit.bang, commit.description, commit.bump) == (
        kind, scope, bang, description, bump)


@pytest.mark.parametrize("message", [
    "Add search", "feat:no space", "feat : space before colon", "feat(): empty scope", "feat(api: unclosed",
    "feat: ", "Merge branch 'topic'", 'Revert "feat: add search"', "", "fix2: digits", "feat!(api): bang first",
])
def test_not_conventional(message):
    assert parse(message) is None


def test_body_and_footers():
    commit = parse("fix: prevent racing of requests\n\nIntroduce a request id and a reference to latest request.\n"
                   "Dismiss incoming responses other than from latest request.\n\n"
                   "Reviewed-by: Z\nRefs #123\nMigration: run `app migrate`\n  then restart the workers")
    assert commit.body.startswith("Introduce a request id") and commit.body.endswith("latest request.")
    assert [(f.token, f.value) for f in commit.footers] == [
        ("Reviewed-by", "Z"), ("Refs", "#123"), ("Migration", "run `app migrate`\n  then restart the workers")]
    assert not commit.breaking and commit.bump is Bump.PATCH


@pytest.mark.parametrize("footer, breaking", [
    ("BREAKING CHANGE: the config key is renamed", True),
    ("BREAKING-CHANGE: the config key is renamed", True),
    ("breaking change: lower case is not the token", False),  # spec rule 15: BREAKING CHANGE must be upper case
    ("Breaking-Change: neither is this", False),
])
def test_breaking_change_footer_is_upper_case(footer, breaking):
    commit = parse(f"feat: x\n\n{footer}")
    assert commit.breaking is breaking
    assert commit.bump is (Bump.MAJOR if breaking else Bump.MINOR)


def test_footer_tokens_compare_case_insensitively():
    commit = parse("feat: x\n\nmigration: reindex\nMIGRATION: restart")
    assert commit.footer_values("Migration") == ["reindex", "restart"]


def test_breaking_notes_come_from_footer_or_description():
    assert parse("feat(api)!: remove v1").breaking_notes == ["remove v1"]
    assert parse("feat!: remove v1\n\nBREAKING CHANGE: use /v2 instead\n\nclients must upgrade").breaking_notes == [
        "use /v2 instead\n\nclients must upgrade"]  # a value may span paragraphs


def test_body_paragraph_is_not_a_footer_unless_it_starts_with_a_token():
    commit = parse("fix: x\n\nThe BREAKING CHANGE: text inside prose\ndoes not count.\n\nSigned-off-by: A")
    assert not commit.breaking
    assert [f.token for f in commit.footers] == ["Signed-off-by"]
