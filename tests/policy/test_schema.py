"""The published JSON Schema: generated from the model, committed in schema/, and agreeing with the validator."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from bayat_deploy.policy.schema import policy_schema
from tests.conftest import REPO

CORPUS = Path(__file__).parent / "corpus"
COMMITTED = REPO / "schema" / "deploy.schema.json"
# Broken policies whose problem is one of shape or type, which the schema alone must catch too.
SCHEMA_CATCHES = ["06-missing-project", "07-bad-project-name", "08-unknown-top-level-key",
                  "09-unknown-environment-key", "10-replicas-not-a-number", "11-boolean-expected",
                  "13-canary-weight-over-100", "14-canary-weight-zero", "24-initial-version-not-semver",
                  "27-unknown-strategy-type", "32-percentage-not-a-number", "33-duration-in-words",
                  "34-smoke-test-path-without-slash", "35-plaintext-registry-password", "45-unknown-artifact-type",
                  "46-environment-url-invalid", "47-list-where-mapping-expected"]


@pytest.fixture(scope="module")
def validator():
    schema = policy_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_committed_schema_is_current():
    assert json.loads(COMMITTED.read_text()) == policy_schema(), (
        "schema/deploy.schema.json is stale: run `bayat-deploy policy schema > schema/deploy.schema.json`")


@pytest.mark.parametrize("policy", sorted((CORPUS / "ok").glob("*.yml")), ids=lambda p: p.stem)
def test_valid_policies_satisfy_the_schema(policy, validator):
    errors = list(validator.iter_errors(yaml.safe_load(policy.read_text()) | {}))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("name", SCHEMA_CATCHES)
def test_shape_errors_are_caught_by_the_schema_too(name, validator):
    document = yaml.safe_load((CORPUS / "broken" / f"{name}.yml").read_text())
    assert list(validator.iter_errors(document)), f"the schema accepts {name}"


def test_check_jsonschema_accepts_the_corpus_with_the_published_schema():
    """What editors and CI users run: the real check-jsonschema against the committed schema file."""
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert tool, "check-jsonschema is installed by scripts/setup"
    files = [str(p) for p in sorted((CORPUS / "ok").glob("*.yml"))]
    proc = subprocess.run([tool, "--schemafile", str(COMMITTED), *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_field_is_described():
    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.get("properties", {}).items():
                assert "description" in value, f"{where}.{key} has no description"
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}[{i}]")
    walk(policy_schema(), "schema")
