"""One vocabulary of inputs: each stage's GitHub action and GitLab component take the same inputs, under the same
names (GitHub writes them with dashes, GitLab with underscores), apart from what only one platform has.

An input that was renamed stays as a deprecated alias on its platform (GitHub `deprecationMessage`, a GitLab
description starting "Deprecated:"), and only as an alias of the new name listed in ALIASES."""

from __future__ import annotations

import pytest
import yaml

from tests.conftest import REPO

STAGES = sorted(path.parent.name for path in (REPO / "actions").glob("*/action.yml"))
# Only GitHub: where the command runs in the workspace, the token for GitHub's API (GitLab jobs have CI_JOB_TOKEN).
GITHUB_ONLY = {"working_directory", "token"}
# Only GitLab: the shape of the job the component adds (its name, stage, rules, needs, the job image and the
# bayat-deploy package installed in it, and the environment's page and tier, which GitHub sets on the job).
GITLAB_ONLY = {"as", "stage", "rules", "needs", "image", "package", "url", "deployment_tier"}
# stage -> old name -> new name
ALIASES = {
    "build": {"build_arg": "build_args"},
    "deploy": {"image": "image_reference"},
    "scan": {"image": "images"},
    "test": {"url": "check_url"},
    "verify": {"url": "check_url"},
}


def github_inputs(stage: str) -> tuple[set[str], dict[str, str]]:
    inputs = yaml.safe_load((REPO / "actions" / stage / "action.yml").read_text())["inputs"]
    current = {name.replace("-", "_") for name, spec in inputs.items() if "deprecationMessage" not in spec}
    deprecated = {name.replace("-", "_"): spec["deprecationMessage"] for name, spec in inputs.items()
                  if "deprecationMessage" in spec}
    return current, deprecated


def gitlab_inputs(stage: str) -> tuple[set[str], dict[str, str]]:
    spec = next(yaml.safe_load_all((REPO / "templates" / f"{stage}.yml").read_text()))["spec"]["inputs"]
    current = {name for name, item in spec.items() if not item.get("description", "").startswith("Deprecated:")}
    deprecated = {name: item["description"] for name, item in spec.items()
                  if item.get("description", "").startswith("Deprecated:")}
    return current, deprecated


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_takes_the_same_inputs_on_both_platforms(stage):
    github, _ = github_inputs(stage)
    gitlab, _ = gitlab_inputs(stage)
    only_github = sorted(github - gitlab - GITHUB_ONLY)
    only_gitlab = sorted(gitlab - github - GITLAB_ONLY)
    assert not only_github and not only_gitlab, f"{stage}: only on GitHub {only_github}, only on GitLab {only_gitlab}"


@pytest.mark.parametrize("stage", STAGES)
def test_a_deprecated_input_is_a_documented_alias_of_a_current_one(stage):
    for platform, (current, deprecated) in (("GitHub", github_inputs(stage)), ("GitLab", gitlab_inputs(stage))):
        for old, message in deprecated.items():
            new = ALIASES.get(stage, {}).get(old)
            assert new, f"{platform} {stage}: {old} is deprecated but not in ALIASES"
            assert new in current, f"{platform} {stage}: {old} is an alias of {new}, which is missing"
            spelled = new.replace("_", "-") if platform == "GitHub" else new
            assert f"`{spelled}`" in message or spelled in message, (platform, stage, message)


def test_an_alias_still_reaches_the_command():
    """The old GitHub names are wired to the same flag as the new ones (the new name wins when both are set)."""
    for stage, names in ALIASES.items():
        text = (REPO / "actions" / stage / "action.yml").read_text()
        for old, new in names.items():
            old, new = old.replace("_", "-"), new.replace("_", "-")
            assert f"  {old}:\n" in text, f"actions/{stage}: the deprecated {old} input is gone before v2"
            assert f"${{{{ inputs.{new} || inputs.{old} }}}}" in text, (stage, old)


def test_url_means_one_thing_per_platform():
    """`url` is the environment's page (GitLab's environment:url); the URL a check runs against is `check_url`."""
    for stage in STAGES:
        github, _ = github_inputs(stage)
        assert "url" not in github, f"actions/{stage}: use check-url (url is deprecated there)"
