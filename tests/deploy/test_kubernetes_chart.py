"""The example's chart (examples/hello-api/chart) with the values the Kubernetes target generates for
each environment, checked by the real tools: `helm lint` and `helm template` (.tools/bin/helm), and
`trivy config` on everything that would reach the cluster - the rendered chart plus the generated
Namespace, ResourceQuota, LimitRange, NetworkPolicy, canary Ingress and Argo Rollouts objects.
No cluster is reachable here, so nothing is applied; these are the offline checks that exist.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from bayat_deploy.deploy.targets.kubernetes import kubernetes_target, manifests
from bayat_deploy.deploy.targets.kubernetes.values import write_values
from tests.deploy.kube import make_repo, open_session, release, tool

ENVIRONMENTS = {
    "development": {"resources": {"replicas": 1}},
    "testing": {"url": "https://hello-api.testing.example.com", "resources": {"replicas": 1}},
    "staging": {"url": "https://hello-api.staging.example.com",
                "resources": {"replicas": 2, "autoscaling": True, "min_replicas": 2, "max_replicas": 4},
                "strategy": {"type": "blue-green", "decommission_after": "10m"}},
    "production": {"url": "https://hello-api.example.com",
                   "resources": {"replicas": 3, "cpu": "500m", "memory": "512Mi", "cpu_limit": "1",
                                 "memory_limit": "1Gi", "autoscaling": True, "min_replicas": 3, "max_replicas": 10,
                                 "target_cpu": 75},
                   "strategy": {"type": "canary", "analysis": False,
                                "steps": [{"weight": 5}, {"weight": 25}, {"weight": 50}, {"weight": 100}]},
                   "target": {"quota": {"cpu": "16", "memory": "32Gi", "pods": 60}, "argo_rollouts": True}},
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Per environment: the generated values, the rendered stable and canary releases, the extra objects."""
    root = tmp_path_factory.mktemp("chart")
    repo = make_repo(root / "repo", {
        "project": "hello-api",
        "registries": {"harbor": {"url": "https://harbor.example.com/bayat"}},
        "target": {"type": "kubernetes", "chart": "chart", "state_dir": str(root / "state" / "{environment}"),
                   "values": {"ingress": {"className": "nginx"}}},
        "environments": ENVIRONMENTS})
    session = open_session(repo)
    out = {}
    for environment in ENVIRONMENTS:
        target = kubernetes_target(session, environment)
        folder = root / environment
        ship = folder / "manifests"
        ship.mkdir(parents=True)
        result = {}
        for track, count in (("stable", target.env.resources.replicas), ("candidate", 1)):
            name = target.names.of(track)
            values = target.values.for_track(target.names, track, release("1.4.0"), count,
                                             rollout_template=track == "stable" and target.spec.argo_rollouts)
            path = write_values(folder / f"{name}.yaml", values, f"{name} in {environment}")
            lint = subprocess.run([tool("helm"), "lint", str(repo / "chart"), "--values", str(path)],
                                  capture_output=True, text=True)
            assert lint.returncode == 0, lint.stdout + lint.stderr
            text = subprocess.run([tool("helm"), "template", name, str(repo / "chart"), "--namespace",
                                   target.names.namespace, "--values", str(path)], capture_output=True, text=True,
                                  check=True).stdout
            (ship / f"{name}.yaml").write_text(text)
            result[track] = {"values": values,
                             "objects": {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if d}}
        (ship / "namespace.yaml").write_text(target.namespace_manifests())
        effective = target.values.effective(target.values.base())
        if target.values.host:
            (ship / "canary-ingress.yaml").write_text(manifests.canary_ingress(
                project="hello-api", environment=environment, name="hello-api-canary",
                namespace=target.names.namespace, values=effective, service="hello-api-canary", weight=5))
        if target.spec.argo_rollouts:
            (ship / "rollout.yaml").write_text(target.rollout_manifests(release("1.4.0"), 1))
        result["folder"] = ship
        out[environment] = result
    return out


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_rendered_stable_release_follows_the_standard(rendered, environment):
    objects = rendered[environment]["stable"]["objects"]
    settings = ENVIRONMENTS[environment]
    deployment = objects[("Deployment", "hello-api")]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    # the published digest pins exactly the image that was scanned and signed; the tag is only a label
    assert container["image"] == "registry.example.com/bayat/hello-api@" + release("1.4.0").digest
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    resources = settings["resources"]
    assert container["resources"]["requests"] == {"cpu": resources.get("cpu", "200m"),
                                                  "memory": resources.get("memory", "256Mi")}
    assert container["resources"]["limits"] == {"cpu": resources.get("cpu_limit", "500m"),
                                                "memory": resources.get("memory_limit", "512Mi")}
    assert deployment["metadata"]["labels"]["track"] == "stable"
    assert objects[("Service", "hello-api")]["spec"]["selector"]["track"] == "stable"
    autoscaled = resources.get("autoscaling", False) and environment != "production"  # production: the Rollout's HPA
    if autoscaled:
        hpa = objects[("HorizontalPodAutoscaler", "hello-api")]["spec"]
        assert (hpa["minReplicas"], hpa["maxReplicas"]) == (resources["min_replicas"], resources["max_replicas"])
        assert "replicas" not in deployment["spec"]
    else:
        assert ("HorizontalPodAutoscaler", "hello-api") not in objects
        assert deployment["spec"]["replicas"] == (0 if environment == "production" else resources["replicas"])
    if "url" in settings:
        ingress = objects[("Ingress", "hello-api")]["spec"]
        assert ingress["rules"][0]["host"] == settings["url"].split("://")[1]
        assert ingress["ingressClassName"] == "nginx"
        assert ingress["tls"] == [{"secretName": "hello-api-tls", "hosts": [settings["url"].split("://")[1]]}]
    else:
        assert ("Ingress", "hello-api") not in objects


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_rendered_candidate_is_a_second_deployment_only(rendered, environment):
    objects = rendered[environment]["candidate"]["objects"]
    assert {kind for kind, _ in objects} == {"Deployment", "Service"}
    deployment = objects[("Deployment", "hello-api-canary")]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["selector"]["matchLabels"]["track"] == "canary"
    assert objects[("Service", "hello-api-canary")]["spec"]["selector"]["track"] == "canary"


def test_rollout_hpa_scales_the_rollout(rendered):
    documents = {d["kind"]: d for d in yaml.safe_load_all((rendered["production"]["folder"] / "rollout.yaml")
                                                          .read_text())}
    hpa = documents["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "hello-api"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    metrics = documents["AnalysisTemplate"]["spec"]["metrics"]
    assert metrics[0]["provider"]["web"]["url"] == \
        "http://hello-api-canary.hello-api-production.svc.cluster.local/version"
    assert metrics[0]["successCondition"] == 'result == "1.4.0"'


@pytest.fixture(scope="module")
def trivy_report(rendered) -> dict:
    """One `trivy config` run over every environment's manifests."""
    root = rendered["development"]["folder"].parents[1]
    proc = subprocess.run([tool("trivy"), "config", "--quiet", "--skip-check-update", "--format", "json",
                           "--severity", "HIGH,CRITICAL", str(root)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_trivy_finds_no_high_or_critical_misconfiguration(trivy_report, environment):
    results = [r for r in trivy_report.get("Results", []) if r["Target"].startswith(f"{environment}/manifests/")]
    scanned = {r["Target"].rsplit("/", 1)[1] for r in results}
    assert {"hello-api.yaml", "hello-api-canary.yaml", "namespace.yaml"} <= scanned, scanned
    findings = [(r["Target"], m["ID"], m["Title"]) for r in results for m in r.get("Misconfigurations") or []
                if m.get("Status") != "PASS"]
    assert findings == []
