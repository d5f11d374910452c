"""The version computation against a table of real commit histories (git repositories built per case).

Each case replays steps on a fresh repository, then compares `version next` (and `current` where given).
`{sha}` in an expected version is HEAD's short SHA (the build metadata).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bayat_deploy.versioning import plan_current, plan_next, resolve_version
from tests.support.gitrepo import GitRepo
from tests.versioning.support import ci_context, session_for, write_policy

FEATURE_BRANCH = [("commit", "feat: base"), ("tag", "v1.3.0"), ("branch", "feature/x")]


@dataclass
class Case:
    id: str
    steps: list[tuple]
    next: str
    current: str | None = None
    policy: str = ""  # lines added to the policy (`project: demo` is always there)
    ci: dict = field(default_factory=dict)  # a CI context: branch= or tag=


CASES = [
    # First release and the plain bump rules.
    Case("first-release-uses-initial", [("commit", "feat: start"), ("commit", "fix: typo")], "0.1.0", "0.0.0"),
    Case("first-release-custom-initial", [("commit", "feat!: start")], "1.0.0",
         policy="versioning: {initial: 1.0.0}"),
    Case("fix-bumps-patch", [("commit", "feat: a"), ("tag", "v1.2.3"), ("commit", "fix: b")], "1.2.4", "1.2.3"),
    Case("perf-bumps-patch", [("commit", "feat: a"), ("tag", "v1.2.3"), ("commit", "perf(db): faster")], "1.2.4"),
    Case("feat-bumps-minor", [("commit", "feat: a"), ("tag", "v1.2.3"), ("commit", "fix: b"), ("commit", "feat: c"),
                              ("commit", "fix: d")], "1.3.0"),
    Case("type-is-case-insensitive", [("commit", "feat: a"), ("tag", "v1.2.3"), ("commit", "FEAT(Api): c")], "1.3.0"),
    Case("docs-only-keeps-version", [("commit", "feat: a"), ("tag", "v1.2.3"), ("commit", "docs: readme"),
                                     ("commit", "chore(deps): lint"), ("commit", "ci: cache")], "1.2.3", "1.2.3"),
    Case("non-conventional-ignored", [("commit", "feat: a"), ("tag", "v1.2.3"), ("commit", "Update stuff"),
                                      ("commit", "feat:missing space"), ("commit", "feat(): empty scope")], "1.2.3"),
    # A release commit (a GitHub action's dist/) made on top of main and reachable only from its tag.
    Case("release-commit-counts-for-its-parent", [("commit", "feat: a"), ("detach",),
                                                  ("commit", "chore(release): 1.0.0 (dist/ for the action)"),
                                                  ("tag", "v1.0.0"), ("checkout", "main"), ("commit", "fix: b")],
         "1.0.1", "1.0.0"),
    Case("release-commit-without-new-commits", [("commit", "feat: a"), ("detach",), ("commit", "chore(release): 1.0.0"),
                                                ("tag", "v1.0.0"), ("checkout", "main")], "1.0.0", "1.0.0"),
    Case("other-unreachable-tags-do-not-count", [("commit", "feat: a"), ("tag", "v1.0.0"), ("detach",),
                                                 ("commit", "feat: elsewhere"), ("tag", "v2.0.0"), ("checkout", "main"),
                                                 ("commit", "fix: b")], "1.0.1", "1.0.0"),
    Case("head-is-the-release", [("commit", "feat: a"), ("commit", "fix: b"), ("tag", "v2.0.1")], "2.0.1", "2.0.1"),
    # Breaking changes.
    Case("bang-bumps-major", [("commit", "feat: a"), ("tag", "v1.2.3"), ("commit", "refactor(api)!: drop v1")],
         "2.0.0"),
    Case("breaking-footer-bumps-major", [("commit", "feat: a"), ("tag", "v1.2.3"),
                                         ("commit", "fix: b\n\nbody text\n\nBREAKING CHANGE: config renamed")], "2.0.0"),
    Case("breaking-hyphen-footer", [("commit", "feat: a"), ("tag", "v1.2.3"),
                                    ("commit", "perf: b\n\nBREAKING-CHANGE: cache format")], "2.0.0"),
    Case("lowercase-breaking-change-is-not-breaking", [("commit", "feat: a"), ("tag", "v1.2.3"),
                                                       ("commit", "fix: b\n\nbreaking change: no")], "1.2.4"),
    # 0.x: initial development.
    Case("zero-major-breaking-bumps-minor", [("commit", "feat: a"), ("tag", "v0.3.2"), ("commit", "feat!: b")],
         "0.4.0"),
    Case("zero-major-feat-bumps-minor", [("commit", "feat: a"), ("tag", "v0.3.2"), ("commit", "feat: b")], "0.4.0"),
    Case("zero-major-fix-bumps-patch", [("commit", "feat: a"), ("tag", "v0.3.2"), ("commit", "fix: b")], "0.3.3"),
    Case("zero-major-never-reaches-one", [("commit", "feat: a"), ("tag", "v0.9.0"),
                                          ("commit", "fix: b\n\nBREAKING CHANGE: all of it")], "0.10.0"),
    # Which tags count.
    Case("non-semver-tags-ignored", [("commit", "feat: a"), ("tag", "v1.0.0"), ("commit", "fix: b"), ("tag", "v1.2"),
                                     ("tag", "v01.2.3"), ("tag", "vnext"), ("tag", "v2.0.0.1"), ("tag", "latest"),
                                     ("commit", "feat: c")], "1.1.0", "1.0.0"),
    Case("pre-release-tags-are-not-releases", [("commit", "feat: a"), ("tag", "v1.0.0"), ("commit", "feat: b"),
                                               ("tag", "v1.1.0-rc.1"), ("commit", "fix: c")], "1.1.0", "1.0.0"),
    Case("unreachable-tags-ignored", [("commit", "feat: a"), ("tag", "v1.0.0"), ("branch", "other"),
                                      ("commit", "feat!: elsewhere"), ("tag", "v2.0.0"), ("checkout", "main"),
                                      ("commit", "fix: here")], "1.0.1", "1.0.0"),
    Case("highest-by-precedence-not-by-name", [("commit", "feat: a"), ("tag", "v1.10.0"), ("commit", "fix: b"),
                                               ("tag", "v1.9.0"), ("commit", "fix: c")], "1.10.1", "1.10.0"),
    Case("annotated-tags-count", [("commit", "feat: a"), ("atag", "v3.0.0"), ("commit", "feat: b")], "3.1.0"),
    Case("custom-tag-prefix", [("commit", "feat: a"), ("tag", "release-2.0.0"), ("commit", "fix: b"),
                               ("tag", "v9.0.0"), ("commit", "feat: c")], "2.1.0", "2.0.0",
         policy="versioning: {tag_prefix: release-}"),
    Case("empty-tag-prefix", [("commit", "feat: a"), ("tag", "3.1.0"), ("commit", "fix: b")], "3.1.1",
         policy="versioning: {tag_prefix: ''}"),
    Case("merged-branch-commits-count", [("commit", "feat: a"), ("tag", "v1.0.0"), ("branch", "topic"),
                                         ("commit", "feat(ui): on topic"), ("checkout", "main"), ("commit", "docs: x"),
                                         ("merge", "topic")], "1.1.0"),
    # Pre-releases off the release branches.
    Case("feature-branch-pre-release", FEATURE_BRANCH + [("commit", "feat: new")], "1.4.0-rc.1+{sha}", "1.3.0"),
    Case("pre-release-number-follows-existing-tags", FEATURE_BRANCH + [
        ("commit", "feat: one"), ("tag", "v1.4.0-rc.1"), ("commit", "fix: two"), ("tag", "v1.4.0-rc.2+abc1234"),
        ("commit", "fix: three")], "1.4.0-rc.3+{sha}"),
    Case("pre-release-counts-tags-on-other-branches", FEATURE_BRANCH + [
        ("commit", "feat: one"), ("tag", "v1.4.0-rc.5"), ("checkout", "main"), ("branch", "feature/y"),
        ("commit", "feat: two")], "1.4.0-rc.6+{sha}"),
    Case("pre-release-of-head-already-tagged", FEATURE_BRANCH + [
        ("commit", "feat: one"), ("tag", "v1.4.0-rc.1"), ("commit", "fix: two"), ("tag", "v1.4.0-rc.2")],
         "1.4.0-rc.2+{sha}"),
    Case("pre-release-without-build-metadata", FEATURE_BRANCH + [("commit", "fix: x")], "1.3.1-rc.1",
         policy="versioning: {build_metadata: false}"),
    Case("custom-pre-release-identifier", FEATURE_BRANCH + [("commit", "feat!: x")], "2.0.0-beta.1+{sha}",
         policy="versioning: {prerelease_identifier: beta}"),
    Case("pre-release-after-docs-only-is-next-patch", FEATURE_BRANCH + [("commit", "docs: x")], "1.3.1-rc.1+{sha}"),
    Case("first-release-on-a-branch", [("commit", "feat: a"), ("branch", "dev"), ("commit", "feat: b")],
         "0.1.0-rc.1+{sha}"),
    Case("release-branch-glob", FEATURE_BRANCH[:2] + [("branch", "release/1.x"), ("commit", "fix: backport")],
         "1.3.1", policy="versioning: {release_branches: [main, 'release/*']}"),
    Case("release-glob-does-not-match-other-branches", FEATURE_BRANCH[:2] + [("branch", "hotfix/1"),
                                                                           ("commit", "fix: quick")],
         "1.3.1-rc.1+{sha}", policy="versioning: {release_branches: [main, 'release/*']}"),
    Case("main-is-not-a-release-branch-when-policy-says-so", [("commit", "feat: a"), ("tag", "v1.0.0"),
                                                              ("commit", "fix: b")],
         "1.0.1-rc.1+{sha}", policy="versioning: {release_branches: ['release/*']}"),
    # The branch and tag the CI says (checkouts in CI are detached).
    Case("ci-branch-wins-over-detached-head", FEATURE_BRANCH[:2] + [("commit", "feat: x"), ("detach",)], "1.4.0",
         ci={"branch": "main"}),
    Case("detached-head-without-ci-is-pre-release", FEATURE_BRANCH[:2] + [("commit", "feat: x"), ("detach",)],
         "1.4.0-rc.1+{sha}"),
    Case("tag-ref-gives-its-version", FEATURE_BRANCH[:2] + [("commit", "feat: x"), ("tag", "v1.4.0-rc.7"),
                                                            ("detach",)],
         "1.4.0-rc.7", "1.4.0-rc.7", ci={"tag": "v1.4.0-rc.7"}),
]


def replay(repo: GitRepo, steps: list[tuple]) -> None:
    for step in steps:
        kind, *args = step
        if kind == "commit":
            repo.commit(args[0])
        elif kind == "tag":
            repo.tag(args[0])
        elif kind == "atag":
            repo.tag(args[0], message=f"Release {args[0]}")
        elif kind == "branch":
            repo.checkout(args[0], create=True)
        elif kind == "checkout":
            repo.checkout(args[0])
        elif kind == "merge":
            repo.git("merge", "-q", "--no-ff", "-m", f"Merge branch '{args[0]}'", args[0])
        elif kind == "detach":
            repo.git("checkout", "-q", "--detach")
        else:  # pragma: no cover - a typo in the table
            raise AssertionError(f"unknown step {step}")


def test_the_table_is_large_enough():
    assert len(CASES) >= 20 and len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_version_computation(case: Case, git_repo: GitRepo):
    write_policy(git_repo.root, "project: demo\n" + case.policy + "\n")
    (git_repo.root / ".gitignore").write_text(".bayat/\n")
    replay(git_repo, case.steps)
    context = ci_context(sha=git_repo.head, **case.ci) if case.ci else None
    session = session_for(git_repo.root, context)
    expected = case.next.format(sha=git_repo.head[:7])

    plan = plan_next(session)
    assert plan.version == expected, plan.reason
    if case.current is not None:
        assert plan_current(session).version == case.current
    if not git_repo.git("tag", "--points-at", "HEAD") and not case.ci:
        assert resolve_version(session) == expected  # no tag on HEAD: the same as `version next`
