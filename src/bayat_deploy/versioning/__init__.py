"""Versions: SemVer 2.0.0 computed from Conventional Commits 1.0.0 and the repository's tags.

Rules, in the order they apply (`bayat-deploy version next`):

1. A pipeline running for a version tag (`context.is_tag`, e.g. `v1.4.0`) has that tag's version.
2. The last release is the highest *stable* tag `<tag_prefix>X.Y.Z` reachable from HEAD, by SemVer
   precedence. Tags that are not SemVer, pre-release tags and tags on other branches are not releases.
3. No release yet: the next version is `versioning.initial` (0.1.0 by default), whatever the commits say.
4. Otherwise the strongest commit since the last release decides:
   `feat` -> MINOR, `fix`/`perf` -> PATCH, `!` after the type/scope or a `BREAKING CHANGE:` /
   `BREAKING-CHANGE:` footer -> MAJOR. Other types (docs, chore, ci, ...) and messages that are not
   Conventional Commits do not bump.
5. 0.x (SemVer's initial development): while MAJOR is 0 a breaking change bumps MINOR (0.3.2 -> 0.4.0),
   a feature bumps MINOR, a fix PATCH. `1.0.0` is never reached automatically: releasing it is a
   decision, made with an explicit `--version 1.0.0` or by tagging `v1.0.0`.
6. Nothing release-worthy since the last release: on a release branch the version stays the last
   release's (`next` says so on stderr); when HEAD *is* the last release, that release.
7. Branches not matching `versioning.release_branches` (globs, e.g. `main`, `release/*`) get a
   pre-release `X.Y.Z-<prerelease_identifier>.N` of the version rule 4 gives, where N is one more than
   the highest existing `<prefix>X.Y.Z-<id>.K` tag anywhere in the repository (or the N HEAD is already
   tagged with), plus `+<short sha>` build metadata when `versioning.build_metadata` is on:
   `1.4.0-rc.3+abc1234`. With nothing release-worthy, the pre-release is of the next patch, so that it
   sorts above the release it follows. A detached HEAD with no branch known from CI is not a release branch.

`bayat-deploy version current` prints the pipeline's tag version (rule 1), else the last release
(rule 2), else `0.0.0`.
"""

from bayat_deploy.versioning.compute import VersionPlan, plan_current, plan_next, resolve_version

__all__ = ["VersionPlan", "plan_current", "plan_next", "resolve_version"]
