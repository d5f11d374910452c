"""The Kubernetes target in helm mode, driven by the real strategies, engine and rollback code.

No Kubernetes cluster is reachable here. The target runs helm and kubectl through a RecordingRunner
whose answers come from `tests/deploy/kube.py`'s FakeCluster: objects rendered by the real helm from the
generated values, `helm list`/`kubectl get` output in the tools' JSON formats, and a small Argo Rollouts
stand-in. The tests assert the exact command lines, in order; reads (`helm list`, `kubectl get`) are
left out of those lists and checked once on their own.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime, timedelta, timezone

import pytest
import yaml

from bayat_deploy.deploy.rollback import rollback
from bayat_deploy.deploy.targets.commands import CommandResult, RecordingRunner
from bayat_deploy.errors import BadInput
from tests.deploy.kube import kube_env, make_repo, open_session, release

NS = "--namespace hello-api-{env}"
OPTS = "--create-namespace --atomic --wait --timeout 300s"


def up(name: str, env: str) -> str:
    return f"helm upgrade --install {name} <chart> {NS.format(env=env)} {OPTS} --values <state>/helm/{name}.yaml"


def select(track: str, env: str) -> str:
    patch = json.dumps({"spec": {"selector": {"track": track}}}, separators=(",", ":"))
    return f"kubectl patch service hello-api {NS.format(env=env)} --type merge --patch '{patch}'"


def status(name: str, env: str, timeout: int = 60) -> str:
    return f"kubectl rollout status deployment/{name} {NS.format(env=env)} --timeout {timeout}s"


def uninstall(name: str, env: str) -> str:
    return f"helm uninstall {name} {NS.format(env=env)} --wait --timeout 300s"


def rollout_patch(patch: dict) -> str:
    text = json.dumps(patch, separators=(",", ":"))
    return (f"kubectl patch rollout hello-api --namespace hello-api-production --subresource status --type merge "
            f"--patch '{text}'")


PREPARE = "kubectl apply --filename -"
CANARY_INGRESS = "kubectl apply --namespace hello-api-{env} --filename -"
DROP_CANARY_INGRESS = "kubectl delete ingress hello-api-canary --namespace hello-api-{env} --ignore-not-found"


def policy(tmp_path, *, argo: bool = False, **overrides) -> dict:
    environments = {
        "development": {"resources": {"replicas": 3}, "strategy": {"type": "rolling", "batch_size": 2}},
        "testing": {"url": "https://hello-api.testing.example.com", "resources": {"replicas": 2},
                    "strategy": {"type": "rolling", "batch_size": 1}},
        "staging": {"url": "https://hello-api.staging.example.com", "resources": {"replicas": 2},
                    "strategy": {"type": "blue-green", "decommission_after": "10m"}},
        "production": {"url": "https://hello-api.example.com", "resources": {"replicas": 3},
                       "strategy": {"type": "canary", "analysis": False, "decommission_after": "10m",
                                    "steps": [{"weight": 10}, {"weight": 50}, {"weight": 100}]}},
    }
    for name, settings in overrides.items():
        environments[name] = {**environments[name], **settings}
    return {"project": "hello-api",
            "target": {"type": "kubernetes", "chart": "chart", "state_dir": str(tmp_path / "state" / "{environment}"),
                       "argo_rollouts": argo},
            "environments": environments}


def lines(commands: list[list[str]]) -> list[str]:
    return [shlex.join(c) for c in commands]


def expected(*commands: str) -> list[str]:
    return [shlex.join(shlex.split(c)) for c in commands]


def stable_values(k, name: str = "hello-api") -> list[dict]:
    """The values of every revision of a release, oldest first."""
    return [yaml.safe_load(text) for _, (_, text) in sorted(k.cluster.releases[name].history.items())]


# ---------------------------------------------------------------------------- strategies
STRATEGY_RUNS = {
    # rolling without an ingress host: shares follow the pod counts (the Service selects both tracks)
    "rolling (no ingress)": ("development", False, lambda e: [
        PREPARE,
        up("hello-api-canary", e), status("hello-api-canary", e),
        "kubectl patch service hello-api --namespace hello-api-development --type json "
        """--patch '[{"op":"remove","path":"/spec/selector/track"}]'""",
        up("hello-api", e),  # 3 -> 1 old pods
        up("hello-api-canary", e), status("hello-api-canary", e),
        select("canary", e),
        up("hello-api", e),  # 1 -> 0 old pods: the stable release keeps the Service
        up("hello-api", e), select("stable", e), uninstall("hello-api-canary", e)]),
    "rolling (NGINX canary ingress)": ("testing", False, lambda e: [
        PREPARE,
        up("hello-api-canary", e), status("hello-api-canary", e),
        CANARY_INGRESS.format(env=e),  # 50%
        up("hello-api", e),
        up("hello-api-canary", e), status("hello-api-canary", e),
        select("canary", e), DROP_CANARY_INGRESS.format(env=e),
        up("hello-api", e),
        up("hello-api", e), select("stable", e), uninstall("hello-api-canary", e)]),
    "blue/green": ("staging", False, lambda e: [
        PREPARE,
        up("hello-api-canary", e), status("hello-api-canary", e),
        select("canary", e),
        status("hello-api-canary", e, 5),  # the analysis after the switch
        up("hello-api-previous", e),  # blue kept warm
        up("hello-api", e), select("stable", e), uninstall("hello-api-canary", e)]),
    "canary (NGINX canary ingress)": ("production", False, lambda e: [
        PREPARE,
        up("hello-api-canary", e), status("hello-api-canary", e),
        CANARY_INGRESS.format(env=e), status("hello-api-canary", e, 5),  # 10%
        up("hello-api-canary", e), status("hello-api-canary", e),
        CANARY_INGRESS.format(env=e), status("hello-api-canary", e, 5),  # 50%
        up("hello-api-canary", e), status("hello-api-canary", e),
        select("canary", e), DROP_CANARY_INGRESS.format(env=e),
        up("hello-api-previous", e),
        up("hello-api", e), select("stable", e), uninstall("hello-api-canary", e)]),
    "canary (Argo Rollouts)": ("production", True, lambda e: [
        PREPARE,
        "kubectl apply --namespace hello-api-production --filename -",  # the Rollout with the steps
        up("hello-api", e),  # the new template starts the canary
        rollout_patch({"status": {"pauseConditions": None}}),  # -> 10%
        rollout_patch({"status": {"pauseConditions": None}}),  # -> 50%
        rollout_patch({"status": {"promoteFull": True}})]),
}


@pytest.mark.parametrize("case", STRATEGY_RUNS)
def test_exact_commands_of_each_strategy(tmp_path, case):
    environment, argo, commands = STRATEGY_RUNS[case]
    k = kube_env(tmp_path, policy(tmp_path, argo=argo), environment)
    first, _ = k.deploy("1.0.0")
    assert first.outcome == "succeeded", first.reason
    k.runner.clear()
    entry, outcome = k.deploy("2.0.0")
    assert (entry.outcome, outcome.traffic_switched) == ("succeeded", True), entry.reason
    assert lines(k.commands()) == expected(*commands(environment))
    state = k.target.current()
    assert state.serving() == "2.0.0" and state.tracks["stable"].weight == 100
    assert "candidate" not in state.tracks
    if not argo:
        assert k.cluster.selector("hello-api")["track"] == "stable"
        assert k.cluster.deployment("hello-api")["spec"]["template"]["spec"]["containers"][0]["image"] == \
            "registry.example.com/bayat/hello-api@" + release("2.0.0").digest  # the published digest, not the tag
        assert ("Ingress", "hello-api-canary") not in k.cluster.applied


def test_rolling_moves_pods_and_traffic_batch_by_batch(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "testing")
    k.deploy("1.0.0")
    k.deploy("2.0.0")
    stable = [(v["replicaCount"], v["service"]["selectorTrack"], v["image"]["tag"]) for v in stable_values(k)]
    # every upgrade renders the selector that is live, so helm never undoes a switch
    assert stable == [(0, "canary", "1.0.0"),  # first deployment: the Service and Ingress, sending to 1.0.0's pods
                      (2, "canary", "1.0.0"),  # 1.0.0 promoted (then the selector moves to stable)
                      (1, "stable", "1.0.0"),  # one old pod stopped once 50% went to the new one
                      (0, "canary", "1.0.0"),  # the last one, once 100% went to the new pods
                      (2, "canary", "2.0.0")]  # the stable release takes 2.0.0 over, then the switch back
    weights = [yaml.safe_load(call.input)["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"]
               for call in k.runner.calls if call.argv[:2] == ["kubectl", "apply"] and "kind: Ingress" in call.input]
    assert weights == ["50"]


def test_canary_ingress_carries_the_weight_and_the_stable_host(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "production")
    k.deploy("1.0.0")
    k.deploy("2.0.0")
    ingresses = [yaml.safe_load(call.input) for call in k.runner.calls
                 if call.argv[:2] == ["kubectl", "apply"] and "kind: Ingress" in (call.input or "")]
    assert [i["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary-weight"] for i in ingresses] == \
        ["10", "50"]
    rule = ingresses[0]["spec"]["rules"][0]
    assert rule["host"] == "hello-api.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": "hello-api-canary", "port": {"number": 80}}
    assert ingresses[0]["metadata"]["annotations"]["nginx.ingress.kubernetes.io/canary"] == "true"


def test_reads_are_helm_list_and_one_kubectl_get(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "staging")
    k.target.current()
    assert lines(k.commands(reads=True)) == expected(
        "helm list --namespace hello-api-staging --output json",
        "kubectl get deployments,services,ingresses --namespace hello-api-staging --selector "
        "'app.kubernetes.io/instance in (hello-api,hello-api-canary,hello-api-previous)' --output json")


# ---------------------------------------------------------------------------- going back
def test_blue_green_rollback_is_a_selector_patch_to_the_warm_release(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "staging")
    k.deploy("1.0.0")
    k.deploy("2.0.0")
    assert k.target.current().tracks["warm"].release.version == "1.0.0"
    k.runner.clear()
    result = rollback(k.deployment, reason="error rate")
    assert result.entry.details["how"] == "switched back to the warm previous version"
    e = "staging"
    assert lines(k.commands()) == expected(PREPARE, select("previous", e), up("hello-api", e), select("stable", e),
                                           uninstall("hello-api-previous", e))
    values = stable_values(k)[-1]
    assert (values["image"]["tag"], values["service"]["selectorTrack"]) == ("1.0.0", "previous")
    assert k.target.current().serving() == "1.0.0"


def test_a_failing_canary_goes_back_to_stable_and_leaves_no_canary(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "production")
    k.deploy("1.0.0")
    k.runner.clear()
    k.smoke.reset(fail_from=2)  # the direct checks pass before any traffic, the analysis at 10% fails
    entry, outcome = k.deploy("2.0.0")
    assert entry.outcome == "rolled-back", entry.reason
    e = "production"
    assert lines(k.commands()) == expected(
        PREPARE, up("hello-api-canary", e), status("hello-api-canary", e),
        CANARY_INGRESS.format(env=e), status("hello-api-canary", e, 5),
        DROP_CANARY_INGRESS.format(env=e), uninstall("hello-api-canary", e))
    assert k.target.current().serving() == "1.0.0" and set(k.cluster.releases) == {"hello-api"}


def test_a_rolling_update_that_fails_its_final_check_keeps_an_old_pod_and_scales_it_back(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "testing")
    k.deploy("1.0.0")
    k.runner.clear()
    k.smoke.reset(fail_from=2)  # the first new pod passes directly; the routed tests fail with all traffic on it
    entry, _ = k.deploy("2.0.0")
    assert entry.outcome == "rolled-back", entry.reason
    e = "testing"
    # the last old pod stops only after the routed check, so restoring scales 1.0.0 back up beside it
    assert lines(k.commands())[-4:] == expected(
        up("hello-api", e), status("hello-api", e), select("stable", e), uninstall("hello-api-canary", e))
    assert [v["replicaCount"] for v in stable_values(k)[-3:]] == [2, 1, 2]
    assert k.target.current().serving() == "1.0.0"


def test_a_rolling_release_whose_first_pod_fails_its_smoke_tests_gets_no_traffic(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "testing")
    k.deploy("1.0.0")
    k.smoke.reset(fail_from=1)  # the direct check of the first new pod, before the selector moves
    entry, outcome = k.deploy("2.0.0")
    assert (entry.outcome, outcome.traffic_switched) == ("failed", False), entry.reason
    assert "smoke tests on the first new instance, before any traffic" in entry.reason
    assert "canary" in k.smoke.urls[0] and k.target.current().serving() == "1.0.0"


def test_a_candidate_that_never_gets_ready_changes_nothing(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "staging")
    k.deploy("1.0.0")
    k.cluster.failing.add("hello-api-canary")
    k.runner.clear()
    entry, outcome = k.deploy("2.0.0")
    assert (entry.outcome, outcome.traffic_switched) == ("failed", False)
    assert "atomic" in entry.reason and "context deadline exceeded" in entry.reason
    assert lines(k.commands()) == expected(PREPARE, up("hello-api-canary", "staging"))
    assert k.cluster.selector("hello-api")["track"] == "stable"
    assert k.target.current().serving() == "1.0.0"


def test_argo_rollouts_canary_that_fails_is_aborted_and_the_template_rolled_back(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path, argo=True), "production")
    k.deploy("1.0.0")
    revision = k.cluster.releases["hello-api"].revision
    k.smoke.reset(fail_from=2)
    k.runner.clear()
    entry, _ = k.deploy("2.0.0")
    assert entry.outcome == "rolled-back", entry.reason
    assert lines(k.commands()) == expected(
        PREPARE, "kubectl apply --namespace hello-api-production --filename -", up("hello-api", "production"),
        rollout_patch({"status": {"pauseConditions": None}}),  # 10%, where the analysis fails
        rollout_patch({"status": {"abort": True}}),
        f"helm rollback hello-api {revision} --namespace hello-api-production --wait --timeout 300s")
    assert k.cluster.rollout.current == k.cluster.rollout.stable and not k.cluster.rollout.aborted
    assert k.target.current().serving() == "1.0.0"


def test_the_rollout_carries_the_policy_steps(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path, argo=True), "production")
    k.deploy("1.0.0")
    k.deploy("2.0.0")
    rollout = [d for call in k.runner.calls if call.input and "kind: Rollout" in call.input
               for d in yaml.safe_load_all(call.input) if d and d["kind"] == "Rollout"][-1]
    canary = rollout["spec"]["strategy"]["canary"]
    assert canary["steps"][:3] == [{"setCanaryScale": {"replicas": 1}}, {"pause": {}},
                                   {"setCanaryScale": {"matchTrafficWeight": True}}]
    weights = [s["setWeight"] for s in canary["steps"] if "setWeight" in s]
    assert weights == [10, 50] and canary["steps"][-1] == {"pause": {}}
    assert {"analysis": {"templates": [{"templateName": "hello-api-smoke"}]}} in canary["steps"]
    assert canary["trafficRouting"] == {"nginx": {"stableIngress": "hello-api"}}
    assert (canary["stableService"], canary["canaryService"]) == ("hello-api", "hello-api-canary")
    assert rollout["spec"]["workloadRef"]["name"] == "hello-api"
    template = stable_values(k)[-1]
    assert (template["replicaCount"], template["autoscaling"]["enabled"]) == (0, False)


def test_warm_release_is_decommissioned_when_due(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "staging")
    k.deploy("1.0.0")
    k.deploy("2.0.0")
    assert not k.target.decommission_due(datetime.now(timezone.utc))
    k.runner.clear()
    assert k.target.decommission_due(datetime.now(timezone.utc) + timedelta(minutes=11))
    assert lines(k.commands()) == expected(uninstall("hello-api-previous", "staging"))
    assert "warm" not in k.target.current().tracks


@pytest.mark.parametrize("argo", [False, True], ids=["helm", "argo-rollouts"])
def test_removing_a_first_release_uninstalls_every_track(tmp_path, argo):
    k = kube_env(tmp_path, policy(tmp_path, argo=argo), "production")
    k.deploy("1.0.0")
    k.runner.clear()
    k.target.remove()
    removal = ["kubectl delete rollouts,services,horizontalpodautoscalers,analysistemplates --namespace "
               "hello-api-production --selector app.kubernetes.io/instance=hello-api,"
               "app.kubernetes.io/managed-by=bayat-deploy --ignore-not-found"] if argo else []
    assert lines(k.commands()) == expected(*removal, uninstall("hello-api", "production"))
    assert k.cluster.releases == {} and k.cluster.rollout is None
    assert k.target.current().tracks == {}


# ---------------------------------------------------------------------------- state, values, namespace
def test_current_tolerates_an_empty_namespace(tmp_path):
    from bayat_deploy.deploy.targets.kubernetes import kubernetes_target

    session = open_session(make_repo(tmp_path / "repo", policy(tmp_path)))
    runner = RecordingRunner()
    runner.answer(["helm", "list"], CommandResult(0, "[]\n"))
    runner.answer(["kubectl", "get"], CommandResult(0, '{"apiVersion": "v1", "items": [], "kind": "List", '
                                                       '"metadata": {"resourceVersion": ""}}\n',
                                                    "No resources found in hello-api-staging namespace.\n"))
    state = kubernetes_target(session, "staging", runner=runner).current()
    assert state.tracks == {} and state.serving() is None


def test_a_paused_canary_shows_its_share(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path, production={"strategy": {
        "type": "canary", "analysis": False, "steps": [{"weight": 10, "manual": True}, {"weight": 100}]}}),
        "production")
    k.deploy("1.0.0")
    entry, _ = k.deploy("2.0.0")
    assert entry.outcome == "paused"
    tracks = k.target.current().tracks
    assert (tracks["stable"].weight, tracks["candidate"].weight) == (90, 10)
    assert (tracks["stable"].release.version, tracks["candidate"].release.version) == ("1.0.0", "2.0.0")
    assert tracks["candidate"].release.digest == release("2.0.0").digest  # remembered, not guessed


def test_values_layer_policy_files_and_facts(tmp_path):
    from bayat_deploy.deploy.targets.kubernetes.values import ChartValues, Names

    document = policy(tmp_path, staging={"resources": {"replicas": 2, "autoscaling": True, "min_replicas": 2,
                                                       "max_replicas": 5, "target_cpu": 70, "cpu": "300m"}})
    document["target"].update(values={"ingress": {"className": "nginx"}, "env": {"REGION": "{environment}-eu"},
                                      "replicaCount": 99},
                              values_files=["deploy/{environment}.yaml"])
    repo = make_repo(tmp_path / "repo", document)
    (repo / "deploy").mkdir()
    (repo / "deploy" / "staging.yaml").write_text("resources: {requests: {cpu: 1}}\nextra: {from: file}\n")
    values = ChartValues(open_session(repo), "staging")
    names = Names("hello-api", "hello-api-staging")
    stable = values.for_track(names, "stable", release("1.2.0"), 2)
    assert stable["image"] == {"repository": "registry.example.com/bayat/hello-api", "tag": "1.2.0",
                               "digest": release("1.2.0").digest}
    assert stable["replicaCount"] == 2  # the deployment's fact beats target.values
    assert stable["resources"]["requests"] == {"cpu": "300m", "memory": "256Mi"}  # the policy beats the file
    assert stable["extra"] == {"from": "file"} and stable["env"] == {"REGION": "staging-eu"}
    assert stable["autoscaling"] == {"enabled": True, "minReplicas": 2, "maxReplicas": 5,
                                     "targetCPUUtilizationPercentage": 70}
    assert stable["ingress"]["className"] == "nginx"
    assert stable["ingress"]["hosts"][0]["host"] == "hello-api.staging.example.com"
    assert stable["securityContext"] == {"readOnlyRootFilesystem": True}
    assert (stable["fullnameOverride"], stable["track"], stable["service"]) == \
        ("hello-api", "stable", {"selectorTrack": "stable"})
    canary = values.for_track(names, "candidate", release("1.3.0"), 1)
    assert (canary["fullnameOverride"], canary["track"], canary["replicaCount"]) == ("hello-api-canary", "canary", 1)
    assert not canary["ingress"]["enabled"] and not canary["autoscaling"]["enabled"]
    assert not canary["networkPolicy"]["enabled"] and canary["service"] == {"selectorTrack": "canary"}


def test_prepare_applies_namespace_quota_limits_and_network_policy(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "staging")
    k.target.prepare()
    (call,) = k.runner.calls
    assert call.argv == ["kubectl", "apply", "--filename", "-"]
    documents = {d["kind"]: d for d in yaml.safe_load_all(call.input)}
    assert set(documents) == {"Namespace", "ResourceQuota", "LimitRange", "NetworkPolicy"}
    assert documents["Namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert documents["ResourceQuota"]["spec"]["hard"] == {"requests.cpu": "4", "requests.memory": "8Gi", "pods": 20}
    assert documents["LimitRange"]["spec"]["limits"][0]["default"] == {"cpu": "500m", "memory": "512Mi"}
    rules = documents["NetworkPolicy"]["spec"]
    assert rules["policyTypes"] == ["Ingress", "Egress"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}} in \
        rules["ingress"][0]["from"]
    assert {"port": 53, "protocol": "UDP"} in rules["egress"][1]["ports"]


def test_a_quota_too_small_for_the_strategy_is_refused_before_anything_runs(tmp_path):
    document = policy(tmp_path, staging={"target": {"quota": {"pods": 5}}})
    k = kube_env(tmp_path, document, "staging")
    with pytest.raises(BadInput, match=r"quota.pods is 5, but 2 stable \+ 2 candidate \+ 2 kept warm"):
        k.target.prepare()
    assert k.runner.commands == []


def test_kube_context_is_passed_to_every_tool(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path, staging={"target": {"context": "staging-cluster"}}), "staging")
    k.deploy("1.0.0")
    for argv in k.runner.commands:
        flag = "--kube-context" if argv[0] == "helm" else "--context"
        assert argv[-2:] == [flag, "staging-cluster"], argv


def test_urls_are_the_environment_url_and_in_cluster_services(tmp_path):
    k = kube_env(tmp_path, policy(tmp_path), "staging")
    assert k.target.url() == "https://hello-api.staging.example.com"
    assert k.target.direct_url("candidate") == "http://hello-api-canary.hello-api-staging.svc.cluster.local"
    dev = kube_env(tmp_path / "dev", policy(tmp_path / "dev"), "development")
    assert dev.target.url() == "http://hello-api.hello-api-development.svc.cluster.local"


THIRD_PARTY_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Values.fullnameOverride | default .Release.Name }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      app: {{ .Release.Name }}
  template:
    metadata:
      labels:
        app: {{ .Release.Name }}
    spec:
      containers:
        - name: app
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
"""


def test_a_chart_without_the_track_label_or_restricted_pods_is_refused_before_anything_changes(tmp_path):
    """A third-party chart (podinfo-like: pods labelled `app` only, no securityContext) would leave the Service
    selecting no pod after a switch, and the namespace's restricted Pod Security would reject its pods."""
    k = kube_env(tmp_path, policy(tmp_path), "staging")
    (k.root / "repo" / "chart" / "templates" / "deployment.yaml").write_text(THIRD_PARTY_DEPLOYMENT)
    with pytest.raises(BadInput) as refused:
        k.target.launch(release("1.0.0"), "candidate", 2)
    message = str(refused.value)
    assert "nothing was changed" in message
    assert "Deployment/hello-api-canary: its pods carry no `track: canary` label" in message
    assert "{{ .Values.track }}" in message
    for rule in ("runAsNonRoot must be true", "seccompProfile.type must be RuntimeDefault",
                 "securityContext.allowPrivilegeEscalation must be false",
                 "securityContext.capabilities.drop must include ALL"):
        assert f"Deployment/hello-api-canary: container app: {rule}" in message, rule
    assert not [c for c in k.runner.commands if c[:2] == ["helm", "upgrade"]]


def test_the_bundled_chart_keeps_the_contract_for_every_track(tmp_path):
    from bayat_deploy.deploy.targets.kubernetes import contract

    k = kube_env(tmp_path, policy(tmp_path), "staging")
    k.target.launch(release("1.0.0"), "candidate", 2)
    renders = [c for c in k.runner.commands if c[:2] == ["helm", "template"]]
    assert renders and renders[0][2] == "hello-api-canary"
    values = renders[0][renders[0].index("--values") + 1]
    import subprocess

    from tests.support.tools import tool

    manifest = subprocess.run([tool("helm"), "template", "hello-api-canary", str(k.root / "repo" / "chart"),
                               "--values", values], capture_output=True, text=True, check=True).stdout
    assert contract.check(manifest, "canary") == []
    assert contract.check(manifest, "stable")  # rendered for the canary track, it is not the stable one
