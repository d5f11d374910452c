"""Platform adapters write what GitHub and GitLab read, in their documented formats."""

from __future__ import annotations

import re

from bayat_deploy.context import RunContext
from bayat_deploy.platform import Annotation, for_context


def github(tmp_path):
    env = {"GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(tmp_path / "out"), "GITHUB_STEP_SUMMARY":
           str(tmp_path / "summary"), "GITHUB_SHA": "a" * 40, "GITHUB_REF_NAME": "v1.2.0", "GITHUB_REF_TYPE": "tag",
           "GITHUB_ACTOR": "alice", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "bayat/shop",
           "GITHUB_RUN_ID": "42"}
    context = RunContext.from_environment(env)
    return context, for_context(context, tmp_path)


def test_github_context_is_read_once_from_the_environment(tmp_path):
    context, platform = github(tmp_path)
    assert (context.platform, context.is_tag, context.ref_name, context.actor) == ("github", True, "v1.2.0", "alice")
    assert context.pipeline_url == "https://github.com/bayat/shop/actions/runs/42"
    assert context.short_sha == "aaaaaaa" and platform.name == "github"


def test_github_outputs_use_a_heredoc_that_a_value_cannot_close(tmp_path):
    _, platform = github(tmp_path)
    platform.set_output("notes", "line one\nghadelimiter_x\nline three")
    text = (tmp_path / "out").read_text()
    match = re.fullmatch(r"notes<<(ghadelimiter_[0-9a-f]{16})\n(.*)\n\1\n", text, re.S)
    assert match and match.group(2) == "line one\nghadelimiter_x\nline three"


def test_github_annotations_escape_properties_and_data(tmp_path, capsys):
    _, platform = github(tmp_path)
    platform.annotate(Annotation("error", "50% broken\nsecond line", file="a,b:c.py", line=7, title="scan: HIGH"))
    platform.annotate(Annotation("warning", "plain"))
    out = capsys.readouterr().out.splitlines()
    assert out == ["::error file=a%2Cb%3Ac.py,line=7,title=scan%3A HIGH::50%25 broken%0Asecond line",
                   "::warning::plain"]


def test_github_summary_appends_markdown(tmp_path):
    _, platform = github(tmp_path)
    platform.summary("### one")
    platform.summary("### two")
    assert (tmp_path / "summary").read_text() == "### one\n\n### two\n\n"


def test_gitlab_outputs_are_a_dotenv_report(tmp_path):
    env = {"GITLAB_CI": "true", "CI_PROJECT_DIR": str(tmp_path), "CI_COMMIT_SHA": "b" * 40,
           "CI_COMMIT_BRANCH": "main", "GITLAB_USER_LOGIN": "bob", "CI_PIPELINE_URL": "https://gl/p/1"}
    context = RunContext.from_environment(env)
    platform = for_context(context, tmp_path)
    platform.set_output("image-digest", "sha256:abc")
    platform.summary("### scan")
    assert (tmp_path / "bayat.env").read_text() == "BAYAT_IMAGE_DIGEST=sha256:abc\n"
    assert (tmp_path / ".bayat/reports/summary.md").read_text() == "### scan\n\n"
    assert (context.branch, context.actor, context.is_tag) == ("main", "bob", False)


def test_local_context_reads_git(git_repo):
    sha = git_repo.commit("feat: first")
    context = RunContext.from_environment({"USER": "carol"}, cwd=git_repo.root)
    assert (context.platform, context.sha, context.branch, context.actor) == ("local", sha, "main", "carol")


def test_pushes_authenticate_with_the_jobs_token_for_that_command_only(tmp_path):
    import base64

    context, platform = github(tmp_path)
    assert platform.git_credentials() == []  # no token in the environment: git's own credentials apply
    with_token = RunContext.from_environment({**context.env, "GITHUB_TOKEN": "ghs_abc"})
    options = for_context(with_token, tmp_path).git_credentials()
    assert options[0] == "-c" and options[1].startswith("http.https://github.com/.extraheader=AUTHORIZATION: basic ")
    assert base64.b64decode(options[1].rsplit(" ", 1)[1]) == b"x-access-token:ghs_abc"
    gitlab = RunContext.from_environment({"GITLAB_CI": "true", "CI_SERVER_URL": "https://gitlab.example.com",
                                          "BAYAT_GIT_TOKEN": "glpat-1", "CI_PROJECT_DIR": str(tmp_path)})
    option = for_context(gitlab, tmp_path).git_credentials()[1]
    assert option.startswith("http.https://gitlab.example.com/.extraheader=")
    assert base64.b64decode(option.rsplit(" ", 1)[1]) == b"oauth2:glpat-1"
