"""Release notes with the standard's ten sections, in its order: summary, version, date, features, bug
fixes, known issues, dependencies, configuration changes, migration steps, rollback plan.

Where each comes from:

* summary - `--summary`/`--summary-file`, else the message of the annotated version tag (as written by
  `bayat-deploy version tag --summary`), else a generated line such as "3 features, 2 fixes, 1 breaking change".
* version, date - the release version (with the previous release and the commit range), today's date (UTC).
* features / bug fixes - Conventional Commits since the previous release: `feat` and `perf` (enhancements)
  / `fix`; breaking ones are marked. Everything else (docs, chore, non-conventional...) is "other changes".
* known issues - `release_notes.known_issues_file` (KNOWN_ISSUES.md): its list items, or its paragraphs.
* dependencies - lock-file changes between the previous release tag and HEAD (see `lockfiles`).
* configuration changes - key changes in `config.files` for every environment and in the policy file
  (see `configdiff`); secret values are never printed.
* migration steps - `Migration:` footers and BREAKING CHANGE texts of the commits, oldest first.
* rollback plan - `bayat-deploy rollback --env <env> --to <previous version>`; without a previous release,
  rolling back means removing the deployment.

When is a section filled (what `--check` and the gate read as `details.sections`):

* summary, version, date, rollback plan: always (they are generated when not given).
* features, bug fixes: when there is at least one entry. "None" does not fill them: requiring them means
  requiring a feature or a fix in the release.
* known issues: when the file has content. A file saying just "None" (or "N/A", "No known issues") is an
  explicit statement and fills the section; a missing or empty file does not.
* migration steps: when a commit has a `Migration:` footer or a breaking change. A `Migration: none`
  footer is an explicit statement and fills the section.
* dependencies / configuration changes: when changes were found, or when the files were there to
  compare and nothing changed: the notes then say "None" because it was checked. With no lock file
  (or no configuration or policy file) at either revision there is nothing to go on, and the section
  stays empty.
"""

from bayat_deploy.release_notes.collect import ReleaseNotes, Section, collect

__all__ = ["ReleaseNotes", "Section", "collect"]
