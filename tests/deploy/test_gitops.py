"""GitOps mode of the Kubernetes target: deployments are commits to the environment config repository.

No cluster, Argo CD or Flux is reachable here. The config repository is a REAL bare git repository
(file path remote) written with the real git; Argo CD is `tests/deploy/kube.py`'s FakeArgoCD, a local
HTTP server answering like Argo CD's application API (a small JSON built from the fields its swagger
documents), which "syncs" the branch tip after a few polls; Flux's HelmRelease status comes from the
command runner, in the shape `kubectl get helmrelease -o json` prints (helm-controller v2 API). The
committed chart and kustomization are checked with the real helm and kubectl (`kubectl kustomize`
works offline).
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from bayat_deploy.deploy.rollback import rollback
from bayat_deploy.deploy.targets.commands import CommandResult
from bayat_deploy.deploy.targets.kubernetes.argocd import ArgoCD, wait_synced
from bayat_deploy.errors import BadInput, BayatError
from tests.deploy.kube import FakeArgoCD, kube_env, tool

TOKEN = "argocd-token"


def git(bare, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(bare), *args], capture_output=True, text=True,
                          check=True).stdout


def commits(bare) -> list[str]:
    """Subjects of the branch's commits, oldest first."""
    log = subprocess.run(["git", "--git-dir", str(bare), "log", "--reverse", "--format=%s", "main"],
                         capture_output=True, text=True)
    return log.stdout.splitlines() if log.returncode == 0 else []


@pytest.fixture
def bare(tmp_path):
    path = tmp_path / "environments.git"
    subprocess.run(["git", "init", "--quiet", "--bare", "--initial-branch", "main", str(path)], check=True)
    return path


def policy(tmp_path, bare, environment: str, strategy: dict, *, tool_name: str = "argocd", argo: bool = False,
           **settings) -> dict:
    return {"project": "hello-api",
            "target": {"type": "kubernetes", "chart": "chart", "state_dir": str(tmp_path / "state" / "{environment}"),
                       "argo_rollouts": argo,
                       "gitops": {"tool": tool_name, "repository": str(bare), "sync_timeout": "5s"}},
            "environments": {environment: {"url": f"https://hello-api.{environment}.example.com",
                                           "resources": {"replicas": 2}, "strategy": strategy, **settings}}}


ROLLING = {"type": "rolling", "batch_size": 1}
CANARY = {"type": "canary", "analysis": False, "steps": [{"weight": 10}, {"weight": 50}, {"weight": 100}]}


@pytest.fixture
def argocd(bare):
    def start(environment: str) -> FakeArgoCD:
        return FakeArgoCD(bare, application=f"hello-api-{environment}", branch="main",
                          path=f"environments/{environment}", token=TOKEN)
    return start


def gitops_env(tmp_path, document: dict, environment: str, server: FakeArgoCD | None = None):
    env = {"ARGOCD_SERVER": server.url, "ARGOCD_AUTH_TOKEN": TOKEN} if server else {}
    return kube_env(tmp_path, document, environment, env=env, real=(["git"],))


# ---------------------------------------------------------------------------- Argo CD
def test_a_deployment_is_one_commit_and_waits_for_argo_cd(tmp_path, bare, argocd):
    with argocd("development") as server:
        k = gitops_env(tmp_path, policy(tmp_path, bare, "development", ROLLING), "development", server)
        entry, outcome = k.deploy("1.0.0")
        assert entry.outcome == "succeeded", entry.reason
        assert commits(bare) == ["deploy hello-api 1.0.0 to development"]
        head = git(bare, "rev-parse", "main").strip()
        assert server.revision == head
        files = set(git(bare, "ls-tree", "-r", "--name-only", "main").split())
        assert {"environments/development/values.yaml", "environments/development/application.yaml",
                "environments/development/chart/Chart.yaml", "environments/development/chart/values.yaml",
                "environments/development/chart/templates/deployment.yaml",
                "environments/development/chart/templates/bayat-platform.yaml"} <= files
        assert all(f.startswith("environments/development/") for f in files)
        message = git(bare, "log", "-1", "--format=%B", "main")
        assert "Version: 1.0.0" in message and "Environment: development" in message
        assert "Triggered-by: alice" in message
        assert "Pipeline: https://github.com/bayat/hello-api/actions/runs/4242" in message
        assert "Image: registry.example.com/bayat/hello-api@sha256:" in message
        first = server.requests[0]
        assert first[:3] == ("GET", "/api/v1/applications/hello-api-development", {"refresh": "normal"})

        entry, _ = k.deploy("2.0.0")
        assert entry.outcome == "succeeded", entry.reason
        assert commits(bare) == ["deploy hello-api 1.0.0 to development", "deploy hello-api 2.0.0 to development"]
        changed = git(bare, "diff", "--name-only", "main~1", "main").split()
        assert changed == ["environments/development/values.yaml"]
        values = yaml.safe_load(git(bare, "show", "main:environments/development/values.yaml"))
        assert values["image"]["tag"] == "2.0.0" and values["replicaCount"] == 2
        assert k.target.current().serving() == "2.0.0"
        assert [argv[:3] for argv in k.runner.commands if argv[0] != "git"] == []  # no helm, no kubectl


def test_the_committed_directory_is_what_argo_cd_renders(tmp_path, bare, argocd):
    with argocd("staging") as server:
        k = gitops_env(tmp_path, policy(tmp_path, bare, "staging", ROLLING), "staging", server)
        k.deploy("1.0.0")
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "--quiet", str(bare), str(checkout)], check=True)
    folder = checkout / "environments" / "staging"
    application = yaml.safe_load((folder / "application.yaml").read_text())
    source = application["spec"]["source"]
    assert (source["repoURL"], source["targetRevision"], source["path"]) == (str(bare), "main",
                                                                            "environments/staging/chart")
    assert source["helm"] == {"releaseName": "hello-api", "valueFiles": ["../values.yaml"]}
    assert application["spec"]["destination"] == {"server": "https://kubernetes.default.svc",
                                                  "namespace": "hello-api-staging"}
    assert application["spec"]["syncPolicy"]["automated"] == {"prune": True, "selfHeal": True}
    # Argo CD renders the chart with the values file beside it: the real helm does the same here
    lint = subprocess.run([tool("helm"), "lint", str(folder / "chart"), "--values", str(folder / "values.yaml")],
                          capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    text = subprocess.run([tool("helm"), "template", "hello-api", str(folder / "chart"), "--namespace",
                           "hello-api-staging", "--values", str(folder / "values.yaml")], capture_output=True,
                          text=True, check=True).stdout
    kinds = sorted(d["kind"] for d in yaml.safe_load_all(text) if d)
    assert kinds == ["Deployment", "Ingress", "LimitRange", "NetworkPolicy", "NetworkPolicy", "ResourceQuota",
                     "Service"]


def test_rollback_is_a_revert_commit(tmp_path, bare, argocd):
    with argocd("development") as server:
        k = gitops_env(tmp_path, policy(tmp_path, bare, "development", ROLLING), "development", server)
        k.deploy("1.0.0")
        k.deploy("2.0.0")
        deployed = git(bare, "rev-parse", "main").strip()
        result = rollback(k.deployment, reason="error rate above 5%")
        assert result.entry.outcome == "succeeded"
        assert result.entry.details["how"] == "switched back to the warm previous version"
        subjects = commits(bare)
        assert subjects[-1] == "roll back hello-api in development: 2.0.0 -> 1.0.0" and len(subjects) == 3
        message = git(bare, "log", "-1", "--format=%B", "main")
        assert f"Reverts: {deployed}" in message and "Triggered-by: alice" in message
        assert git(bare, "rev-parse", "main:environments/development") == \
            git(bare, "rev-parse", "main~2:environments/development")  # the tree of 1.0.0 again
        assert server.revision == git(bare, "rev-parse", "main").strip()
        assert k.target.current().serving() == "1.0.0"


def test_a_fresh_runner_learns_the_tracks_from_the_config_repository(tmp_path, bare, argocd):
    with argocd("development") as server:
        first = gitops_env(tmp_path / "a", policy(tmp_path / "a", bare, "development", ROLLING), "development",
                           server)
        first.deploy("1.0.0")
        first.deploy("2.0.0")
        # another CI runner: no state directory, no clone; only the config repository knows
        fresh = gitops_env(tmp_path / "b", policy(tmp_path / "b", bare, "development", ROLLING), "development",
                           server)
        tracks = fresh.target.current().tracks
        assert {name: t.release.version for name, t in tracks.items()} == {"stable": "2.0.0", "warm": "1.0.0"}
        assert tracks["stable"].release.digest == first.target.current().tracks["stable"].release.digest
        # the deployment record lives in the state directory too, so the version is named
        result = rollback(fresh.deployment, to="1.0.0", reason="error rate above 5%")
        assert result.entry.details["how"] == "switched back to the warm previous version"
        assert commits(bare)[-1] == "roll back hello-api in development: 2.0.0 -> 1.0.0"
        again = gitops_env(tmp_path / "c", policy(tmp_path / "c", bare, "development", ROLLING), "development",
                           server)
        assert {name: t.release.version for name, t in again.target.current().tracks.items()} == {"stable": "1.0.0"}


def test_removing_the_deployment_empties_the_directory_and_deletes_the_application(tmp_path, bare, argocd):
    with argocd("development") as server:
        k = gitops_env(tmp_path, policy(tmp_path, bare, "development", ROLLING), "development", server)
        k.deploy("1.0.0")
        k.target.remove()
        assert commits(bare)[-1] == "remove hello-api from development"
        assert git(bare, "ls-tree", "-r", "--name-only", "main") == ""
        assert server.requests[-1][:3] == ("DELETE", "/api/v1/applications/hello-api-development",
                                           {"cascade": "true"})
        assert k.target.current().tracks == {}


def test_removing_a_flux_deployment_leaves_an_empty_kustomization(tmp_path, bare):
    k = gitops_env(tmp_path, policy(tmp_path, bare, "testing", ROLLING, tool_name="flux"), "testing")
    k.runner.answer(["kubectl", "get", "helmrelease"], helm_release_status(bare, ready=True))
    k.deploy("1.0.0")
    k.target.remove()
    assert git(bare, "ls-tree", "-r", "--name-only", "main").split() == ["environments/testing/kustomization.yaml"]
    kustomization = yaml.safe_load(git(bare, "show", "main:environments/testing/kustomization.yaml"))
    assert kustomization["resources"] == []


def test_a_stuck_sync_fails_clearly_and_git_goes_back(tmp_path, bare, argocd):
    document = policy(tmp_path, bare, "development", ROLLING)
    document["target"]["gitops"]["sync_timeout"] = "1s"
    with argocd("development") as server:
        server.behaviour = "stuck"
        k = gitops_env(tmp_path, document, "development", server)
        entry, _ = k.deploy("1.0.0")
    assert entry.outcome == "failed"
    assert "did not report Synced and Healthy at" in entry.reason and "within 1s" in entry.reason
    assert "last seen: sync OutOfSync" in entry.reason
    assert commits(bare) == ["deploy hello-api 1.0.0 to development", "withdraw hello-api 1.0.0 from development"]


def test_wait_succeeds_only_when_synced_and_healthy_at_the_commit(tmp_path, bare, argocd):
    subprocess.run(["git", "clone", "--quiet", str(bare), str(tmp_path / "work")], check=True, capture_output=True)
    work = tmp_path / "work"
    (work / "environments" / "x").mkdir(parents=True)
    (work / "environments" / "x" / "values.yaml").write_text("image: {repository: hello, tag: '1'}\n")
    subprocess.run(["git", "-C", str(work), "add", "."], check=True)
    subprocess.run(["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   check=True)
    subprocess.run(["git", "-C", str(work), "push", "-q", "origin", "HEAD:main"], check=True, capture_output=True)
    commit = git(bare, "rev-parse", "main").strip()
    with FakeArgoCD(bare, application="x", branch="main", path="environments/x", token=TOKEN) as server:
        server.polls_before_sync = 3
        detail = wait_synced(ArgoCD(server.url, TOKEN), "x", commit, timeout=5, poll=0.01)
        assert detail == f"Argo CD: x sync Synced at {commit[:12]}, health Healthy"
        assert len([r for r in server.requests if r[1] == "/api/v1/applications/x"]) == 4
        with pytest.raises(BayatError, match=r"did not report Synced and Healthy at 0123456789ab within 0.2s; "
                                             r"last seen: sync Synced at [0-9a-f]{12}, health Healthy"):
            wait_synced(ArgoCD(server.url, TOKEN), "x", "0123456789abcdef", timeout=0.2, poll=0.01)
        server.behaviour = "degraded"
        with pytest.raises(BayatError, match="is Degraded at"):
            wait_synced(ArgoCD(server.url, TOKEN), "x", commit, timeout=5, poll=0.01)
        with pytest.raises(BayatError, match=r"Argo CD refused the token \(401\)"):
            wait_synced(ArgoCD(server.url, "wrong"), "x", commit, timeout=5, poll=0.01)
        with pytest.raises(BayatError, match="Argo CD has no application 'y'"):
            wait_synced(ArgoCD(server.url, TOKEN), "y", commit, timeout=5, poll=0.01)


# ---------------------------------------------------------------------------- canary and blue/green
def test_canary_is_performed_by_argo_rollouts_through_argo_cd_actions(tmp_path, bare, argocd):
    with argocd("production") as server:
        k = gitops_env(tmp_path, policy(tmp_path, bare, "production", CANARY, argo=True), "production", server)
        assert k.deploy("1.0.0")[0].outcome == "succeeded"
        entry, _ = k.deploy("2.0.0")
        assert entry.outcome == "succeeded", entry.reason
        assert commits(bare) == ["deploy hello-api 1.0.0 to production", "deploy hello-api 2.0.0 to production"]
        assert server.actions() == ["resume", "resume", "promote-full"]
        action = next(r for r in server.requests if r[1].endswith("/resource/actions"))
        assert action[:3] == ("POST", "/api/v1/applications/hello-api-production/resource/actions", {
            "namespace": "hello-api-production", "resourceName": "hello-api", "group": "argoproj.io",
            "version": "v1alpha1", "kind": "Rollout"})
        rollout = yaml.safe_load_all(git(bare, "show", "main:environments/production/chart/templates/"
                                                       "bayat-rollout.yaml"))
        steps = next(d for d in rollout if d["kind"] == "Rollout")["spec"]["strategy"]["canary"]["steps"]
        assert [s.get("setWeight") for s in steps if "setWeight" in s] == [10, 50]
        assert server.rollout.stable == server.rollout.current and not server.rollout.paused
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "--quiet", str(bare), str(checkout)], check=True)
    folder = checkout / "environments" / "production"
    text = subprocess.run([tool("helm"), "template", "hello-api", str(folder / "chart"), "--namespace",
                           "hello-api-production", "--values", str(folder / "values.yaml")], capture_output=True,
                          text=True, check=True).stdout
    objects = {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if d}
    assert objects[("Deployment", "hello-api")]["spec"]["replicas"] == 0  # the Rollout's template only
    assert {("Rollout", "hello-api"), ("AnalysisTemplate", "hello-api-smoke"), ("Service", "hello-api-canary")} \
        <= set(objects)


def test_a_failing_canary_is_reverted(tmp_path, bare, argocd):
    with argocd("production") as server:
        k = gitops_env(tmp_path, policy(tmp_path, bare, "production", CANARY, argo=True), "production", server)
        k.deploy("1.0.0")
        k.smoke.reset(fail_from=2)  # the analysis at 10% fails
        entry, _ = k.deploy("2.0.0")
        assert entry.outcome == "rolled-back", entry.reason
        assert commits(bare)[1:] == ["deploy hello-api 2.0.0 to production",
                                     "abort hello-api 2.0.0 in production: back to 1.0.0"]
        assert server.actions() == ["resume"]
        assert yaml.safe_load(git(bare, "show", "main:environments/production/values.yaml"))["image"]["tag"] == \
            "1.0.0"
        assert not server.rollout.aborted and server.rollout.current == server.rollout.stable
        assert k.target.current().serving() == "1.0.0"


def test_blue_green_is_promoted_after_the_direct_checks(tmp_path, bare, argocd):
    strategy = {"type": "blue-green", "decommission_after": "10m"}
    with argocd("staging") as server:
        k = gitops_env(tmp_path, policy(tmp_path, bare, "staging", strategy, argo=True), "staging", server)
        k.deploy("1.0.0")
        k.smoke.reset()
        entry, _ = k.deploy("2.0.0")
        assert entry.outcome == "succeeded", entry.reason
        assert server.actions() == ["resume"]
        assert k.smoke.urls[0] == "http://hello-api-canary.hello-api-staging.svc.cluster.local"  # the preview
        blue_green = next(d for d in yaml.safe_load_all(git(
            bare, "show", "main:environments/staging/chart/templates/bayat-rollout.yaml"))
                          if d["kind"] == "Rollout")["spec"]["strategy"]["blueGreen"]
        assert blue_green["autoPromotionEnabled"] is False and blue_green["scaleDownDelaySeconds"] == 600


def test_canary_without_argo_rollouts_is_refused_before_any_commit(tmp_path, bare, argocd):
    with argocd("production") as server:
        k = gitops_env(tmp_path, policy(tmp_path, bare, "production", CANARY), "production", server)
        with pytest.raises(BadInput, match="performed by Argo Rollouts; set argo_rollouts: true"):
            k.target.prepare()
    assert commits(bare) == []


def test_argo_cd_needs_its_server_and_token(tmp_path, bare):
    k = gitops_env(tmp_path, policy(tmp_path, bare, "development", ROLLING), "development")
    entry, _ = k.deploy("1.0.0")
    assert entry.outcome == "failed" and "ARGOCD_SERVER" in entry.reason and "nothing was rolled out" in entry.reason
    assert commits(bare) == []


# ---------------------------------------------------------------------------- Flux
def helm_release_status(bare, *, ready: bool):
    """`kubectl get helmrelease -o json` as helm-controller v2 reports it, at the branch's tip."""
    def answer(argv, _input) -> CommandResult:
        head = git(bare, "rev-parse", "main").strip()
        revision = f"0.1.0+{head[:12]}.1"
        condition = {"type": "Ready", "status": "True" if ready else "Unknown",
                     "reason": "UpgradeSucceeded" if ready else "Progressing",
                     "message": f"Helm upgrade succeeded for release hello-api-testing/hello-api.v2 with chart "
                                f"hello-api@{revision}" if ready else "Running 'upgrade' action with timeout of 5m0s",
                     "observedGeneration": 2}
        return CommandResult(0, json.dumps({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "hello-api-testing", "namespace": "hello-api-testing", "generation": 2},
            "status": {"conditions": [condition], "observedGeneration": 2, "lastAttemptedRevision": revision,
                       "lastAppliedRevision": revision if ready else "0.1.0+000000000000.1",
                       "helmChart": "hello-api-testing/hello-api-testing-hello-api-testing",
                       "history": [{"chartName": "hello-api", "chartVersion": revision, "status": "deployed",
                                    "version": 2}]}}))
    return answer


def test_flux_deploy_commits_the_helm_release_and_waits_until_it_is_ready(tmp_path, bare):
    k = gitops_env(tmp_path, policy(tmp_path, bare, "testing", ROLLING, tool_name="flux"), "testing")
    k.runner.answer(["kubectl", "get", "helmrelease"], [helm_release_status(bare, ready=False),
                                                        helm_release_status(bare, ready=True)])
    entry, _ = k.deploy("1.0.0")
    assert entry.outcome == "succeeded", entry.reason
    assert commits(bare) == ["deploy hello-api 1.0.0 to testing"]
    cluster = [argv for argv in k.runner.commands if argv[0] == "kubectl"]
    assert cluster[0][:4] == ["kubectl", "annotate", "gitrepository", "hello-api-testing-config"]
    assert cluster[0][4].startswith("reconcile.fluxcd.io/requestedAt=")
    assert cluster[0][5:] == ["--namespace", "hello-api-testing", "--overwrite"]
    # waiting for the commit (not ready, then ready), then the second batch's health check reads it once more
    assert cluster[1:] == [["kubectl", "get", "helmrelease", "hello-api-testing", "--namespace", "hello-api-testing",
                            "--output", "json"]] * 3
    checkout = tmp_path / "checkout"
    subprocess.run(["git", "clone", "--quiet", str(bare), str(checkout)], check=True)
    built = subprocess.run([tool("kubectl"), "kustomize", str(checkout / "environments" / "testing")],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    documents = {d["kind"]: d for d in yaml.safe_load_all(built.stdout)}
    assert set(documents) == {"Namespace", "GitRepository", "HelmRelease"}
    spec = documents["HelmRelease"]["spec"]
    assert spec["chart"]["spec"]["chart"] == "./environments/testing/chart"
    assert spec["chart"]["spec"]["reconcileStrategy"] == "Revision"
    assert spec["chart"]["spec"]["valuesFiles"] == ["./environments/testing/chart/values.yaml",
                                                    "./environments/testing/values.yaml"]
    assert documents["GitRepository"]["spec"]["url"] == str(bare)


def test_flux_failure_is_reported_with_the_helm_controller_reason(tmp_path, bare):
    document = policy(tmp_path, bare, "testing", ROLLING, tool_name="flux")

    def failed(argv, _input):
        head = git(bare, "rev-parse", "main").strip()
        return CommandResult(0, json.dumps({"metadata": {"generation": 1}, "status": {
            "observedGeneration": 1, "lastAttemptedRevision": f"0.1.0+{head[:12]}.1",
            "conditions": [{"type": "Ready", "status": "False", "reason": "UpgradeFailed",
                            "message": "context deadline exceeded"}]}}))
    k = gitops_env(tmp_path, document, "testing")
    k.runner.answer(["kubectl", "get", "helmrelease"], failed)
    entry, _ = k.deploy("1.0.0")
    assert entry.outcome == "failed"
    assert "Flux could not release" in entry.reason and "UpgradeFailed: context deadline exceeded" in entry.reason
