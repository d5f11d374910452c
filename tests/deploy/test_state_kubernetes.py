"""The cluster state store: record, tracks and lock in a ConfigMap and a Lease, through the real kubectl.

No Kubernetes API server runs here. tests/support/kubeapi.py stands in for one (TLS, bearer token,
resourceVersion conflicts, Status errors, request bodies checked against a schema written from the
API's published OpenAPI definitions); everything on our side is real: the `kubectl` binary, its
kubeconfig handling, separate processes with separate HOMEs standing for separate runners.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from bayat_deploy.deploy.record import Entry, Record
from bayat_deploy.deploy.state import DeploymentLocked, StoreError
from bayat_deploy.deploy.state.kubernetes import KubernetesStore, micro_time
from bayat_deploy.deploy.targets.commands import CommandRunner
from tests.conftest import REPO
from tests.deploy.kube import TOOLS, make_repo
from tests.support.kubeapi import KubeAPI

NAMESPACE = "hello-api-development"


@pytest.fixture
def api():
    server = KubeAPI()
    yield server
    server.shutdown()
    assert server.invalid == [], "bodies the API server would refuse"


def machine(tmp_path, api, name: str, **kubeconfig) -> dict:
    """A fresh 'runner': its own HOME and temp dir, nothing but a kubeconfig in common with the others."""
    home = tmp_path / name
    (home / "tmp").mkdir(parents=True)
    return {"HOME": str(home), "TMPDIR": str(home / "tmp"), "PATH": f"{TOOLS}:/usr/bin:/bin",
            "KUBECONFIG": str(api.kubeconfig(home / "kubeconfig", **kubeconfig))}


def store(env: dict, lease_seconds: int = 60) -> KubernetesStore:
    return KubernetesStore(namespace=NAMESPACE, name="bayat-deploy-development", runner=CommandRunner(env=env),
                           lease_seconds=lease_seconds, labels={"bayat.io/environment": "development"})


def entry(version: str, outcome: str = "succeeded", action: str = "deploy", **extra) -> Entry:
    return Entry(environment="development", action=action, version=version, outcome=outcome, **extra)


def test_the_record_lives_in_a_configmap_and_the_first_write_creates_the_namespace(tmp_path, api):
    record = Record(store(machine(tmp_path, api, "runner-1")))
    assert record.entries() == []
    record.append(entry("1.0.0"))
    record.append(entry("1.1.0", "rolled-back"))
    assert NAMESPACE in api.namespaces  # the first deployment's lock/record made it
    configmap = api.get("ConfigMap", NAMESPACE, "bayat-deploy-development")
    assert configmap["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "bayat-deploy"
    lines = configmap["data"]["records.jsonl"].splitlines()
    assert [json.loads(line)["version"] for line in lines] == ["1.0.0", "1.1.0"]
    # another machine reads the same entries
    other = Record(store(machine(tmp_path, api, "runner-2")))
    assert [(e.version, e.outcome) for e in other.entries()] == [("1.0.0", "succeeded"), ("1.1.0", "rolled-back")]
    assert other.last_successful().version == "1.0.0"
    assert "ConfigMap hello-api-development/bayat-deploy-development" in other.path


def test_concurrent_writers_lose_no_entry(tmp_path, api):
    """Optimistic concurrency: a replace with a stale resourceVersion gets 409 and is redone on the new text."""
    writers = [Record(store(machine(tmp_path, api, f"runner-{n}"))) for n in range(3)]
    writers[0].append(entry("0.0.1"))  # the ConfigMap exists, so the writers race on replace

    def write(record, n):
        for i in range(4):
            record.append(entry(f"{n}.{i}.0"))

    threads = [threading.Thread(target=write, args=(w, n + 1)) for n, w in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    versions = [e.version for e in writers[0].entries()]
    assert sorted(versions) == sorted(["0.0.1"] + [f"{n}.{i}.0" for n in (1, 2, 3) for i in range(4)])
    puts = [path for method, path in api.requests if method == "PUT" and "configmaps" in path]
    assert len(puts) >= 12  # at least one replace per entry; more when a conflict made a writer redo


def test_the_lock_is_a_lease_another_runner_waits_for_and_names(tmp_path, api, capsys):
    alice, bob = store(machine(tmp_path, api, "alice")), store(machine(tmp_path, api, "bob"))
    with alice.lock("alice deploying 1.1.0"):
        lease = api.get("Lease", NAMESPACE, "bayat-deploy-development-lock")
        assert lease["spec"]["holderIdentity"].startswith("alice deploying 1.1.0 [")
        assert lease["spec"]["leaseDurationSeconds"] == 60
        with pytest.raises(DeploymentLocked, match=r"Lease hello-api-development/bayat-deploy-development-lock "
                                                    r"\(alice deploying 1.1.0"):
            with bob.lock("bob deploying 1.1.1", timeout=1):
                pass
        assert "waiting for the deployment lock held by: alice deploying 1.1.0" in capsys.readouterr().out
    released = api.get("Lease", NAMESPACE, "bayat-deploy-development-lock")
    assert "holderIdentity" not in released["spec"]
    with bob.lock("bob deploying 1.1.1", timeout=5):
        assert api.get("Lease", NAMESPACE, "bayat-deploy-development-lock")["spec"]["leaseTransitions"] == 1


def test_a_lease_whose_holder_died_is_taken_over_after_its_duration(tmp_path, api):
    """A runner that vanished mid-deployment stops renewing; the environment is not blocked for good."""
    env = machine(tmp_path, api, "survivor")
    api.namespaces.add(NAMESPACE)
    stale = datetime.now(timezone.utc) - timedelta(seconds=120)
    api.objects[("Lease", NAMESPACE, "bayat-deploy-development-lock")] = {
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "bayat-deploy-development-lock", "namespace": NAMESPACE, "resourceVersion": "7",
                     "uid": "u", "creationTimestamp": "2026-01-01T00:00:00Z"},
        "spec": {"holderIdentity": "crashed runner [dead]", "leaseDurationSeconds": 60,
                 "acquireTime": micro_time(stale), "renewTime": micro_time(stale), "leaseTransitions": 3}}
    with store(env).lock("survivor rolling back", timeout=2):
        spec = api.get("Lease", NAMESPACE, "bayat-deploy-development-lock")["spec"]
        assert spec["holderIdentity"].startswith("survivor rolling back") and spec["leaseTransitions"] == 4


def test_the_holder_renews_its_lease_while_the_deployment_runs(tmp_path, api):
    runner_store = store(machine(tmp_path, api, "slow"), lease_seconds=1)
    with runner_store.lock("a slow canary"):
        first = api.get("Lease", NAMESPACE, "bayat-deploy-development-lock")["spec"]["renewTime"]
        threading.Event().wait(1.2)  # the lease's duration has passed...
        later, deadline = first, time.monotonic() + 20  # (kubectl is slow on a loaded machine)
        while later == first and time.monotonic() < deadline:
            later = api.get("Lease", NAMESPACE, "bayat-deploy-development-lock")["spec"]["renewTime"]
            threading.Event().wait(0.1)
        assert later > first  # ...but it was renewed, so nobody may take it over
        with pytest.raises(DeploymentLocked):
            with store(machine(tmp_path, api, "impatient")).lock("impatient", timeout=0.5):
                pass


def test_wrong_credentials_and_a_full_configmap_are_clear_errors(tmp_path, api):
    with pytest.raises(StoreError, match=r"Unauthorized"):
        Record(store(machine(tmp_path, api, "stranger", token="wrong"))).entries()
    good = store(machine(tmp_path, api, "runner"))
    good.write("records.jsonl", "x" * (1024 * 1024 - 100))
    with pytest.raises(StoreError, match=r"cannot take more .*Too long: must have at most 1048576 bytes"):
        Record(good).append(entry("9.9.9", details={"pad": "y" * 500}))


def kubernetes_policy(tmp_path) -> dict:
    return {"project": "hello-api", "target": {"type": "kubernetes", "chart": "chart",
                                               "state_dir": str(tmp_path / "scratch" / "{environment}")}}


def test_history_from_a_third_machine_lists_what_two_other_runners_recorded(tmp_path, api):
    """The issue's scenario on the store's side: a deploy job and a rollback job on two runners write; a
    laptop with only the kubeconfig (a different HOME, no state directory of either) reads all of it."""
    repo = make_repo(tmp_path / "repo", kubernetes_policy(tmp_path))
    for name, lines in (("deploy-job", [entry("1.0.0"), entry("1.1.0", "rolled-back", previous_version="1.0.0")]),
                        ("rollback-job", [entry("1.0.0", action="rollback", previous_version="1.1.0")])):
        env = machine(tmp_path, api, name)
        code = ("import sys, json\n"
                "from bayat_deploy.deploy.record import Entry, Record\n"
                "from bayat_deploy.deploy.state.kubernetes import KubernetesStore\n"
                "from bayat_deploy.deploy.targets.commands import CommandRunner\n"
                "import os\n"
                "s = KubernetesStore(namespace=sys.argv[1], name='bayat-deploy-development', "
                "runner=CommandRunner(env=dict(os.environ)))\n"
                "for line in sys.stdin: Record(s).append(Entry(**json.loads(line)))\n")
        subprocess.run([sys.executable, "-c", code, NAMESPACE], input="".join(e.to_json() + "\n" for e in lines),
                       env={**env, "PYTHONPATH": str(REPO / "src")}, check=True, text=True)
    laptop = machine(tmp_path, api, "laptop")
    proc = subprocess.run([str(REPO / ".venv" / "bin" / "bayat-deploy"), "history", "--environment", "development",
                           "--format", "json"], cwd=repo, env=laptop, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert [(e["action"], e["version"], e["outcome"]) for e in json.loads(proc.stdout)] == [
        ("deploy", "1.0.0", "succeeded"), ("deploy", "1.1.0", "rolled-back"), ("rollback", "1.0.0", "succeeded")]
    assert not (tmp_path / "scratch").exists()  # nothing was kept on any machine's disk
    # the same command without cluster credentials says where the state is and why it failed
    denied = subprocess.run([str(REPO / ".venv" / "bin" / "bayat-deploy"), "history", "--environment",
                             "development"], cwd=repo, env=machine(tmp_path, api, "no-creds", token="nope"),
                            capture_output=True, text=True)
    assert denied.returncode != 0 and "Unauthorized" in denied.stdout + denied.stderr
    assert "Traceback" not in denied.stdout + denied.stderr
