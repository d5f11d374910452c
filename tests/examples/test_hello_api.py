"""The bundled example is a real service: its own tests pass and its image builds and serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from bayat_deploy.policy.loader import load_policy
from tests.conftest import REPO

EXAMPLE = REPO / "examples" / "hello-api"


def test_the_example_policy_validates_without_warnings():
    loaded = load_policy(EXAMPLE / ".bayat" / "deploy.yml")
    assert loaded.policy.project == "hello-api" and not loaded.warnings


def test_the_example_service_passes_its_own_tests(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--junitxml={tmp_path / 'junit.xml'}"], cwd=EXAMPLE, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert 'failures="0"' in (tmp_path / "junit.xml").read_text()


@pytest.mark.docker
def test_the_example_image_builds_from_the_local_base_and_serves():
    base = os.environ.get("BAYAT_BASE_IMAGE", "bayat/python-base:bookworm")
    tag = "bayat-test/hello-api:spine"
    subprocess.run(["docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", tag, str(EXAMPLE)],
                   check=True, capture_output=True)
    container = subprocess.run(["docker", "run", "-d", "--rm", "-p", "127.0.0.1::8080", "-e", "APP_VERSION=9.9.9",
                                tag], check=True, capture_output=True, text=True).stdout.strip()
    try:
        port = subprocess.run(["docker", "port", container, "8080/tcp"], check=True, capture_output=True,
                              text=True).stdout.split(":")[-1].strip()
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/version", timeout=2) as response:
                    assert json.load(response)["version"] == "9.9.9"
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            assert 'app_info{version="9.9.9"} 1' in response.read().decode()
    finally:
        subprocess.run(["docker", "stop", "-t", "10", container], capture_output=True)
