"""GitLab: the generated `.gitlab-ci.yml` and the CI/CD components in templates/.

The generated pipeline passes GitLab's CI JSON Schema for the bundled example and every policy of the
corpus, and its job graph is the standard's. A component file is two YAML documents: the `spec:` header
is checked here (every input typed, defaulted, described; `as`, `stage`, `rules` first) and against the
schema, and the job document is checked against the schema with the inputs' defaults interpolated, as
GitLab does when the component is included without inputs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from bayat_deploy.generate.gitlab import bootstrap_script, package_spec, ref_condition
from bayat_deploy.generate.plan import build_plan
from bayat_deploy.generate.render import drift, render_files, write
from bayat_deploy.generate.secrets_used import notification_secrets, registry_secrets
from bayat_deploy.policy.loader import load_policy
from tests.conftest import REPO
from tests.support.lint import assert_gitlab_passes

CORPUS = sorted((REPO / "tests" / "policy" / "corpus" / "ok").glob("*.yml"))
EXAMPLE = REPO / "examples" / "hello-api" / ".bayat" / "deploy.yml"
POLICIES = [EXAMPLE, *CORPUS]
TEMPLATES = REPO / "templates"
COMPONENTS = sorted(path for path in TEMPLATES.glob("*.yml") if path.stem != "full-pipeline")
STAGE_COMPONENTS = {"version", "build", "test", "scan", "publish", "release-notes", "config", "gate", "window",
                    "approvals", "deploy", "verify", "monitor", "rollback", "notify", "rescan"}
INPUT = re.compile(r"\$\[\[\s*inputs\.([A-Za-z0-9_-]+)\s*\]\]")
TYPES = {"string": str, "boolean": bool, "number": (int, float), "array": list}
# The clauses of the standard a job's comment may name (its section headings).
CLAUSES = ("Deployment Pipeline", "Approval Gates", "Required Checks", "Versioning", "Version Tracking",
           "Release Notes", "Post-Deployment Verification", "Rollback Procedures", "Maintenance Windows",
           "Emergency Maintenance", "Monitoring and Alerting", "Configuration Validation", "Automated Testing",
           "Maintenance Procedures")
TOP_LEVEL = {"include", "workflow", "stages", "variables", "default", "spec"}

MERGE_REQUEST_NEVER = {"if": '$CI_PIPELINE_SOURCE == "merge_request_event"', "when": "never"}
SCHEDULE_NEVER = {"if": '$CI_PIPELINE_SOURCE == "schedule"', "when": "never"}


def policy_id(policy: Path) -> str:
    return policy.parent.parent.name if policy == EXAMPLE else policy.stem


def rendered_repo(tmp_path: Path, policy: Path) -> Path:
    repo = tmp_path / policy_id(policy)
    (repo / ".bayat").mkdir(parents=True)
    shutil.copy(policy, repo / ".bayat" / "deploy.yml")
    write(repo, render_files(load_policy(repo / ".bayat" / "deploy.yml"), "gitlab"))
    return repo


@pytest.fixture(scope="module")
def repos(tmp_path_factory):
    base = tmp_path_factory.mktemp("gitlab")
    return {policy: rendered_repo(base, policy) for policy in POLICIES}


def pipeline(repo: Path) -> dict:
    return yaml.safe_load((repo / ".gitlab-ci.yml").read_text())


def jobs_of(document: dict) -> dict:
    return {name: job for name, job in document.items() if name not in TOP_LEVEL and not name.startswith(".")}


# ------------------------------------------------------------------------------------ the generated pipeline
def test_the_pipelines_pass_the_gitlab_ci_schema(repos):
    assert_gitlab_passes(*(repo / ".gitlab-ci.yml" for repo in repos.values()))


def test_the_job_graph_is_the_standards(repos):
    document = pipeline(repos[EXAMPLE])
    environments = ["development", "testing", "staging", "production"]
    assert document["stages"] == ["build", "test", "scan", "publish",
                                  *[f"{kind}-{env}" for env in environments for kind in ("deploy", "verify")]]
    jobs = jobs_of(document)
    assert list(jobs)[:7] == ["version", "build", "test", "release-notes", "scan", "publish", "release"]
    assert jobs["publish"]["needs"] == ["version", "build", "test", "scan", "release-notes"]
    assert jobs["scan"]["needs"] == ["version", "build"]
    order = [("deploy-development", "publish"), ("verify-development", "deploy-development"),
             ("deploy-testing", "verify-development"), ("deploy-staging", "verify-testing"),
             ("window-production", "verify-staging"), ("emergency-production", "verify-staging"),
             ("deploy-production", "verify-staging"), ("deploy-production", "window-production"),
             ("deploy-production", "emergency-production")]
    for job, after in order:
        needed = [n if isinstance(n, str) else n["job"] for n in jobs[job]["needs"]]
        assert after in needed, (job, after)
    for env, tier in zip(environments, environments):
        deploy, verify = jobs[f"deploy-{env}"], jobs[f"verify-{env}"]
        assert deploy["environment"] == {"name": env, "url": f"http://127.0.0.1:{8081 + environments.index(env)}",
                                         "deployment_tier": tier}
        assert verify["environment"]["action"] == "verify"
        for name in (f"deploy-{env}", f"verify-{env}", f"rollback-{env}", f"rollback-{env}-manual"):
            assert jobs[name]["resource_group"] == env, name
            assert jobs[name]["interruptible"] is False, name
        [command] = deploy["script"]
        assert command.startswith(f"bayat-deploy deploy --env {env} ") and " --gate" in command
        rollback = jobs[f"rollback-{env}"]
        assert rollback["needs"] == [f"deploy-{env}", f"verify-{env}"]
        assert rollback["rules"][-1] == {"when": "on_failure"}
        manual = jobs[f"rollback-{env}-manual"]
        assert manual["rules"][-1] == {"when": "manual", "allow_failure": True}
        assert manual["needs"] == [] and "ROLLBACK_REASON" in manual["script"][0]
        # a merge request's pipeline builds, tests and scans: nothing that publishes or deploys runs in it
        for name in (f"deploy-{env}", f"verify-{env}", f"rollback-{env}", f"rollback-{env}-manual"):
            assert jobs[name]["rules"][0] == MERGE_REQUEST_NEVER, name
    for name in ("publish", "release", "release-notes", "window-production", "emergency-production"):
        assert jobs[name]["rules"][0] == MERGE_REQUEST_NEVER, name
    for name in ("version", "build", "test", "scan"):  # they run for merge requests, never on the schedule
        assert jobs[name]["rules"] == [SCHEDULE_NEVER, {"when": "on_success"}], name
    for name in ("publish", "deploy-development", "rollback-production-manual"):
        assert jobs[name]["rules"][1] == SCHEDULE_NEVER, name
    # the hourly schedule runs only the maintenance announcements, one job per announced environment
    assert {"if": '$CI_PIPELINE_SOURCE == "schedule"'} in document["workflow"]["rules"]
    for env in ("staging", "production"):
        assert jobs[f"announce-{env}"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "schedule"'}]
        assert jobs[f"announce-{env}"]["script"] == [f"bayat-deploy window announce --env {env} --every 1h"]
    # development deploys by itself; the others wait for their protected environment's approval
    assert jobs["deploy-development"]["rules"] == [MERGE_REQUEST_NEVER, SCHEDULE_NEVER, {"when": "on_success"}]
    for env in environments[1:]:
        assert jobs[f"deploy-{env}"]["rules"][-1] == {"when": "manual", "allow_failure": False}
        assert f"bayat-deploy deploy --env {env} " in jobs[f"deploy-{env}"]["script"][0]
        assert " --record-approvals --gate " in jobs[f"deploy-{env}"]["script"][0]
    # production: deploy freeze, window or emergency (its own approval environment), change ticket
    freeze = {"if": '$CI_DEPLOY_FREEZE && $BAYAT_EMERGENCY != "true"', "when": "never"}
    for name in ("deploy-production", "verify-production", "rollback-production"):
        assert jobs[name]["rules"][2] == freeze, name
    assert jobs["window-production"]["rules"] == [MERGE_REQUEST_NEVER, SCHEDULE_NEVER,
                                                   {"if": '$BAYAT_EMERGENCY == "true"', "when": "never"},
                                                   {"if": "$CI_DEPLOY_FREEZE", "when": "never"},
                                                   {"when": "on_success"}]
    emergency = jobs["emergency-production"]
    assert emergency["rules"] == [MERGE_REQUEST_NEVER, SCHEDULE_NEVER,
                                  {"if": '$BAYAT_EMERGENCY == "true"', "when": "manual", "allow_failure": False}]
    assert emergency["environment"] == {"name": "production-emergency", "deployment_tier": "other"}
    assert emergency["script"] == [
        "bayat-deploy approvals record --env production --rule emergency",
        'bayat-deploy window check --env production --emergency --reason "$EMERGENCY_REASON" '
        '--version "$BAYAT_VERSION"']
    assert [n for n in jobs["deploy-production"]["needs"] if isinstance(n, dict)] == [
        {"job": "window-production", "optional": True}, {"job": "emergency-production", "optional": True}]
    assert jobs["deploy-production"]["script"][0].endswith('--gate --notify --evidence-bundle '
                                                          '--change-ticket "$CHANGE_TICKET"')
    assert "window-development" not in jobs and "emergency-staging" not in jobs
    assert set(document["variables"]) == {"BAYAT_JOB_IMAGE", "BAYAT_DEPLOY_PACKAGE", "CHANGE_TICKET",
                                          "BAYAT_EMERGENCY", "EMERGENCY_REASON"}
    # installing with pip, the jobs run in an image with Python and git (GitLab's default image has neither)
    assert document[".bayat-deploy"]["image"] == "$BAYAT_JOB_IMAGE"
    assert document["variables"]["BAYAT_JOB_IMAGE"]["value"] == "python:3.12-bookworm"
    assert jobs["release"]["image"] == "registry.gitlab.com/gitlab-org/release-cli:v0.24.0"  # pinned, not latest
    assert document["variables"]["BAYAT_EMERGENCY"]["options"] == ["false", "true"]
    assert document["workflow"]["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'},
                                             {"if": '$CI_PIPELINE_SOURCE == "schedule"'},
                                             {"if": '$CI_COMMIT_BRANCH == "main"'}, {"if": "$CI_COMMIT_TAG =~ /^v.*$/"}]


def test_reports_evidence_and_the_release(repos):
    document = pipeline(repos[EXAMPLE])
    template = document[".bayat-deploy"]
    assert template["artifacts"] == {"when": "always", "paths": [".bayat/evidence/", ".bayat/reports/"]}
    assert template["cache"] == {"key": "bayat-deploy-v1", "paths": [".bayat/cache/"]}
    assert template["before_script"] == [bootstrap_script() + "\n"]
    jobs = jobs_of(document)
    assert jobs["version"]["artifacts"]["reports"] == {"dotenv": "bayat.env"}
    assert jobs["test"]["artifacts"]["reports"] == {"junit": ".bayat/reports/junit/*.xml"}
    assert jobs["scan"]["artifacts"]["reports"] == {
        "container_scanning": ".bayat/reports/gl-container-scanning-report.json",
        "dependency_scanning": ".bayat/reports/gl-dependency-scanning-report.json"}
    assert ".bayat/dist/" in jobs["build"]["artifacts"]["paths"]  # what publish pushes
    assert jobs["publish"]["script"] == ['bayat-deploy publish --version "$BAYAT_VERSION"',
                                         "bayat-deploy version tag --push"]
    assert jobs["publish"]["variables"]["GIT_CONFIG_VALUE_0"] == "ci.skip"
    release = jobs["release"]
    assert release["needs"] == ["version", "publish", "release-notes"]
    assert release["release"] == {"tag_name": "$BAYAT_TAG", "name": "hello-api $BAYAT_VERSION",
                                  "description": ".bayat/release-notes/$BAYAT_VERSION.md"}
    for name, job in jobs.items():
        if name != "release":
            assert job["extends"] == ".bayat-deploy", name
    assert jobs["deploy-production"]["script"] == [
        'bayat-deploy deploy --env production --version "$BAYAT_VERSION" --record-approvals --gate --notify '
        '--evidence-bundle --change-ticket "$CHANGE_TICKET"']
    assert "after_script" not in jobs["deploy-production"]  # the sequence announces the result itself


@pytest.mark.parametrize("policy", POLICIES, ids=policy_id)
def test_every_environment_gets_its_gates(repos, policy):
    loaded = load_policy(policy)
    plan = build_plan(loaded.policy)
    jobs = jobs_of(pipeline(repos[policy]))
    for env in plan.environments:
        name = env.name
        deploy = jobs[f"deploy-{name}"]
        assert deploy["environment"]["name"] == name
        assert deploy["environment"]["deployment_tier"] in ("development", "testing", "staging", "production",
                                                            "other")
        manual = {"when": "manual", "allow_failure": False} in deploy.get("rules", [])
        assert manual == bool(env.approvals), name
        [command] = deploy["script"]  # one command: the deploy sequence (stages/deploy_sequence.py)
        assert command.startswith(f'bayat-deploy deploy --env {name} --version "$BAYAT_VERSION"'), command
        assert ("--record-approvals --gate --notify" in command) == bool(env.approvals), name
        assert " --gate --notify" in command, name
        assert ('--change-ticket "$CHANGE_TICKET"' in command) == env.change_ticket, name
        assert (f"window-{name}" in jobs) == env.window, name
        assert (f"emergency-{name}" in jobs) == (env.window and env.emergency), name
        if env.window and env.emergency:
            assert jobs[f"emergency-{name}"]["environment"]["name"] == f"{name}-emergency"
        verify = " ".join(jobs[f"verify-{name}"]["script"])
        assert (f"test --kind performance --env {name}" in verify) == env.performance, name
        assert (f"monitor --env {name}" in verify) == env.monitor, name
        assert ("--evidence-bundle" in command) == env.regulated, name
        assert {f"rollback-{name}", f"rollback-{name}-manual"} <= set(jobs)


@pytest.mark.parametrize("policy", POLICIES, ids=policy_id)
def test_every_job_names_its_clause_of_the_standard(repos, policy):
    lines = (repos[policy] / ".gitlab-ci.yml").read_text().splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^([A-Za-z0-9][\w.-]*):\s*$", line)
        if not match or match.group(1) in TOP_LEVEL:
            continue
        comment, back = [], index - 1
        while back >= 0 and lines[back].startswith("#"):
            comment.insert(0, lines[back])
            back -= 1
        text = " ".join(comment)
        assert any(clause in text for clause in CLAUSES), f"{match.group(1)}: {text or 'no comment'}"


@pytest.mark.parametrize("policy", POLICIES, ids=policy_id)
def test_secrets_are_named_never_written(repos, policy):
    loaded = load_policy(policy)
    names = set(registry_secrets(loaded.policy) + notification_secrets(loaded.policy)) | {
        "BAYAT_GIT_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN"}
    text = (repos[policy] / ".gitlab-ci.yml").read_text()
    for line in text.splitlines():
        code = line.split(" #")[0] if not line.lstrip().startswith("#") else ""
        for name in names:
            assert not re.search(rf"\b{name}\s*:", code), line  # never a variable definition
            assert f"${name}" not in code and f"${{{name}}}" not in code, line  # nor passed on by hand
    document = yaml.safe_load(text)
    assert all(not isinstance(spec, dict) or set(spec) <= {"value", "description", "options"}
               for spec in document["variables"].values())


def test_check_finds_drift_and_passes_when_current(tmp_path, generate):
    repo = rendered_repo(tmp_path, EXAMPLE)
    assert generate("--platform", "gitlab", "--check", cwd=repo).code == 0
    path = repo / ".gitlab-ci.yml"
    path.write_text(path.read_text().replace("interruptible: false", "interruptible: true", 1))
    drifted = generate("--platform", "gitlab", "--check", cwd=repo)
    assert drifted.code == 1 and "-  interruptible: true" in drifted.stderr and "+  interruptible: false" in \
        drifted.stderr
    (repo / ".bayat" / "deploy.yml").write_text(EXAMPLE.read_text().replace("url: http://127.0.0.1:8084",
                                                                            "url: https://shop.example.com"))
    assert "https://shop.example.com" in "\n".join(drift(repo, render_files(
        load_policy(repo / ".bayat" / "deploy.yml"), "gitlab")))
    assert generate("--platform", "all", cwd=repo).code == 0
    assert (repo / ".github" / "workflows" / "deploy.yml").exists()
    assert generate("--platform", "all", "--check", cwd=repo).code == 0


def test_the_action_ref_pins_the_package(tmp_path, generate):
    repo = tmp_path / "pinned"
    (repo / ".bayat").mkdir(parents=True)
    shutil.copy(EXAMPLE, repo / ".bayat" / "deploy.yml")
    assert generate("--platform", "gitlab", "--action-ref", "v1.4.2", cwd=repo).code == 0
    document = pipeline(repo)
    assert document["variables"]["BAYAT_DEPLOY_PACKAGE"]["value"] == "bayat-deploy==1.4.2"
    assert document[".bayat-deploy"]["cache"]["key"] == "bayat-deploy-v1.4.2"


@pytest.mark.parametrize("ref, spec", [
    ("v1", "bayat-deploy==1.*"), ("v1.4", "bayat-deploy==1.4.*"), ("v1.4.2", "bayat-deploy==1.4.2"),
    ("2.0.0", "bayat-deploy==2.0.0"),
    ("0123456789abcdef0123456789abcdef01234567",
     "bayat-deploy @ git+https://github.com/bayat/deploy-action@0123456789abcdef0123456789abcdef01234567"),
])
def test_package_spec(ref, spec):
    assert package_spec(ref) == spec


@pytest.mark.parametrize("variable, pattern, condition", [
    ("CI_COMMIT_BRANCH", "main", '$CI_COMMIT_BRANCH == "main"'),
    ("CI_COMMIT_TAG", "v*", "$CI_COMMIT_TAG =~ /^v.*$/"),
    ("CI_COMMIT_BRANCH", "release/*", r"$CI_COMMIT_BRANCH =~ /^release\/.*$/"),
    ("CI_COMMIT_TAG", "v1.?", r"$CI_COMMIT_TAG =~ /^v1\..$/"),
])
def test_ref_conditions(variable, pattern, condition):
    assert ref_condition(variable, pattern) == condition


def gitlab_checkout(generated: Path, tmp_path: Path, branch: str) -> Path:
    """A private git checkout of a generated repository, with the `origin` gitlab-ci-local reads the project from.

    The generated repositories are shared by the module, so each test works on its own copy."""
    repo = tmp_path / "repo"
    shutil.copytree(generated, repo, ignore=shutil.ignore_patterns(".git"))
    subprocess.run(["git", "init", "-q", "-b", branch], cwd=repo, check=True)
    subprocess.run(["git", "remote", "add", "origin", "https://gitlab.example.com/acme/hello-api.git"], cwd=repo,
                   check=True)
    return repo


def test_gitlab_ci_local_reads_the_pipeline(repos, tmp_path):
    """gitlab-ci-local 4.70.1 parses the generated file with its own schema and lists the jobs it would run."""
    repo = gitlab_checkout(repos[EXAMPLE], tmp_path, "main")
    listed = subprocess.run([str(REPO / ".tools" / "bin" / "gitlab-ci-local"), "--list-json", "--home",
                             str(tmp_path)], cwd=repo, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    jobs = {job["name"]: job for job in json.loads(listed.stdout[listed.stdout.index("["):])}
    assert jobs["deploy-testing"]["when"] == "manual" and jobs["rollback-development"]["when"] == "on_failure"
    assert jobs["deploy-development"]["needs"] == ["version", "publish"] or \
        [n["job"] if isinstance(n, dict) else n for n in jobs["deploy-development"]["needs"]] == ["version",
                                                                                                   "publish"]


# ------------------------------------------------------------------------------------------- the components
def documents(path: Path) -> list:
    return list(yaml.safe_load_all(path.read_text()))


def spec_inputs(path: Path) -> dict:
    return documents(path)[0]["spec"]["inputs"]


def interpolate(node, values: dict):
    """GitLab's input interpolation: a value that is only `$[[ inputs.x ]]` becomes the input (typed); inside
    a longer string, its text."""
    if isinstance(node, str):
        whole = INPUT.fullmatch(node.strip())
        if whole:
            return values[whole.group(1)]
        return INPUT.sub(lambda m: json.dumps(values[m.group(1)]) if isinstance(values[m.group(1)], bool)
                         else str(values[m.group(1)]), node)
    if isinstance(node, list):
        return [interpolate(item, values) for item in node]
    if isinstance(node, dict):
        return {interpolate(key, values): interpolate(value, values) for key, value in node.items()}
    return node


def check_input(where: str, name: str, item: dict) -> None:
    assert set(item) <= {"type", "default", "description", "options", "regex"}, (where, name)
    assert item.get("type") in TYPES, (where, name, "typed")
    assert "default" in item, (where, name, "defaulted")
    assert len(item.get("description", "").strip()) > 10, (where, name, "described")
    assert isinstance(item["default"], TYPES[item["type"]]), (where, name, item["default"])
    if "options" in item:
        assert item["default"] in item["options"], (where, name)
    if "regex" in item:
        assert re.search(item["regex"], str(item["default"])), (where, name, item["regex"])


@pytest.mark.parametrize("path", [*COMPONENTS, TEMPLATES / "full-pipeline.yml"], ids=lambda p: p.stem)
def test_component_spec(path):
    header, job = documents(path)
    assert list(header) == ["spec"] and set(header["spec"]) == {"description", "inputs"}
    assert 20 < len(header["spec"]["description"]) <= 256
    inputs = header["spec"]["inputs"]
    for name, item in inputs.items():
        check_input(path.stem, name, item)
    used = set(INPUT.findall(path.read_text().split("\n---\n", 1)[1]))
    assert used == set(inputs), (path.stem, set(inputs) ^ used)
    if path.stem != "full-pipeline":
        assert list(inputs)[:3] == ["as", "stage", "rules"]
        assert inputs["rules"]["type"] == "array" and inputs["as"]["default"] == path.stem
        assert list(inputs)[-3:] == ["policy", "image", "package"]
    # the image of the component's release (scripts/release pins it by digest); nothing installed
    assert inputs["package"]["default"] == ""
    assert inputs["image"]["default"].startswith("ghcr.io/bayat/deploy-action:")


def test_components_pass_the_gitlab_ci_schema(tmp_path):
    """The spec header is a valid document on its own; the job, with the defaults interpolated, too."""
    files = []
    for path in [*COMPONENTS, TEMPLATES / "full-pipeline.yml"]:
        header, job = documents(path)
        defaults = {name: item["default"] for name, item in header["spec"]["inputs"].items()}
        for kind, document in (("spec", header), ("job", interpolate(job, defaults))):
            target = tmp_path / f"{path.stem}.{kind}.yml"
            target.write_text(yaml.safe_dump(document, sort_keys=False))
            files.append(target)
    assert_gitlab_passes(*files)
    assert {p.stem for p in COMPONENTS} == STAGE_COMPONENTS


def test_the_components_share_one_bootstrap_the_generated_pipeline_carries_too():
    shared = yaml.safe_load((REPO / "templates-lib" / "bootstrap.yml").read_text())[".bayat-deploy-component"]
    assert shared["before_script"] == [bootstrap_script() + "\n"]
    assert shared["cache"] == {"key": "bayat-deploy", "paths": [".bayat/cache/"]}
    assert shared["variables"]["BAYAT_VENV"] == "$CI_PROJECT_DIR/.bayat/cache/venv"
    copies = [path.name for path in TEMPLATES.glob("*.yml") if "python3 -m venv" in path.read_text()]
    assert not copies, f"{copies} carry their own bootstrap"


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.stem)
def test_component_job(path):
    header, job = documents(path)
    assert list(job) == ["include", "$[[ inputs.as ]]"]
    assert job["include"] == [{"local": "/templates-lib/bootstrap.yml"}]  # the one bootstrap, no copy of it
    body = job["$[[ inputs.as ]]"]
    assert body["extends"] == ".bayat-deploy-component" and "before_script" not in body
    assert body["stage"] == "$[[ inputs.stage ]]" and body["rules"] == "$[[ inputs.rules ]]"
    assert body["image"] == "$[[ inputs.image ]]"
    assert body["variables"]["BAYAT_DEPLOY_PACKAGE"] == "$[[ inputs.package ]]"
    artifacts = body["artifacts"]
    assert artifacts["when"] == "always" and artifacts["paths"][:2] == [".bayat/evidence/", ".bayat/reports/"]
    assert artifacts["reports"]["dotenv"] == "bayat.env"
    # inputs reach the script as variables, never as text in it
    for script in body["script"] + body.get("after_script", []):
        assert "$[[" not in script, path.stem
    if "environment" in body:
        assert body["interruptible"] is False
    if path.stem in ("deploy", "verify", "rollback"):
        assert body["resource_group"] == "$[[ inputs.environment ]]"
        assert body["environment"]["name"] == "$[[ inputs.environment ]]"


ACTION_INPUTS = {  # GitHub action input -> component input, where the name differs
    "build-arg": "build_args", "scan.image": "images", "deploy.image": "image_reference",
    "verify.url": "check_url",
}
NOT_ON_GITLAB = {"working-directory", "token"}  # jobs run in the project directory; GITLAB_TOKEN is a variable


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.stem)
def test_components_run_what_the_github_actions_run(path):
    action = yaml.safe_load((REPO / "actions" / path.stem / "action.yml").read_text())
    run = action["runs"]["steps"][-1]["run"]
    command = re.search(r'scripts/action"? ([a-z -]+)', run).group(1).strip()
    body = documents(path)[1]["$[[ inputs.as ]]"]
    script = "\n".join(body["script"])
    assert f"bayat-deploy {command}" in script, (path.stem, command)
    inputs = spec_inputs(path)
    for name in action.get("inputs", {}):
        if name in NOT_ON_GITLAB:
            continue
        wanted = ACTION_INPUTS.get(f"{path.stem}.{name}") or ACTION_INPUTS.get(name) or name.replace("-", "_")
        assert wanted in inputs, (path.stem, name)


@lru_cache(maxsize=None)
def cli_flags(*command: str) -> frozenset[str]:
    helped = subprocess.run([str(REPO / ".venv" / "bin" / "bayat-deploy"), *command, "--help"],
                            capture_output=True, text=True)
    assert helped.returncode == 0, (command, helped.stderr)
    return frozenset(re.findall(r"(--[a-z][a-z-]+)", helped.stdout))


COMMANDS = {"version": [("version", "next"), ("version", "tag"), ("version", "write")],
            "window": [("window", "check"), ("window", "next")], "config": [("config", "validate")],
            "approvals": [("approvals", "record")], "publish": [("publish",), ("version", "tag")],
            "deploy": [("window", "check"), ("approvals", "record"), ("gate",), ("notify",), ("deploy",),
                       ("evidence", "bundle")],
            "rollback": [("rollback",), ("notify",)]}


@pytest.mark.parametrize("path", COMPONENTS, ids=lambda p: p.stem)
def test_every_flag_a_component_passes_exists(path):
    body = documents(path)[1]["$[[ inputs.as ]]"]
    text = "\n".join(body["script"] + body.get("after_script", []))
    used = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text)) - {"--version"} | (
        {"--version"} if "--version" in text.replace("bayat-deploy --version", "") else set())
    known = frozenset().union(*(cli_flags(*c) for c in COMMANDS.get(path.stem, [(path.stem,)])))
    assert used <= known, (path.stem, used - known)


def test_the_full_pipeline_composes_the_components():
    header, job = documents(TEMPLATES / "full-pipeline.yml")
    defaults = {name: item["default"] for name, item in header["spec"]["inputs"].items()}
    included = []
    for item in interpolate(job, defaults)["include"]:
        path = REPO / item["local"]
        assert path.parent == TEMPLATES and path.exists(), item["local"]
        inputs = spec_inputs(path)
        for name, value in item.get("inputs", {}).items():
            assert name in inputs, (path.stem, name)
            check_input(f"full-pipeline -> {path.stem}", name, {**inputs[name], "default": value})
        included.append(path.stem)
    # the deploy job gates and announces itself; the rescan runs on a schedule, not in a release's pipeline
    assert set(included) == STAGE_COMPONENTS - {"gate", "notify", "rescan"}
    assert included.index("publish") < included.index("deploy") < included.index("verify")


def test_the_readme_shows_both_ways_to_include_and_every_component():
    text = (TEMPLATES / "README.md").read_text()
    assert "component: $CI_SERVER_FQDN/<group>/deploy-action/" in text
    assert "project: <group>/deploy-action" in text and "file: templates/" in text
    for name in [*STAGE_COMPONENTS, "full-pipeline"]:
        assert f"`{name}`" in text, name


@pytest.mark.parametrize("source, expected", [
    ("schedule", {"announce-staging", "announce-production"}),  # the hourly schedule: announcements only
    ("merge_request_event", {"version", "build", "test", "scan"}),  # a merge request: the checks only
])
def test_gitlab_ci_local_runs_only_the_jobs_of_each_pipeline_source(repos, tmp_path, source, expected):
    """gitlab-ci-local evaluates the rules the way GitLab does, for the pipeline source it is given."""
    repo = gitlab_checkout(repos[EXAMPLE], tmp_path, "feature/x")
    listed = subprocess.run([str(REPO / ".tools" / "bin" / "gitlab-ci-local"), "--list-json", "--home",
                             str(tmp_path), "--variable", f"CI_PIPELINE_SOURCE={source}"], cwd=repo,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    jobs = json.loads(listed.stdout[re.search(r"(?m)^\[", listed.stdout).start():])  # after its warnings
    assert {job["name"] for job in jobs if job["when"] != "never"} == expected, [(j["name"], j["when"]) for j in jobs]
