"""What stands in for a cluster in the Kubernetes and GitOps target tests.

No Kubernetes cluster, Argo CD, Flux or Argo Rollouts controller is reachable here, so:

- `FakeCluster` answers the helm and kubectl command lines a target runs (through a RecordingRunner)
  in the tools' own output formats. The objects it keeps are the ones the real helm renders: every
  `helm upgrade --install NAME CHART --values F` is replayed as `helm template NAME CHART --values F`
  with the real helm binary, so Deployments, Services and Ingresses are exactly the chart's output for
  the generated values. `helm list --output json` is written from helm's documented JSON shape
  (`name, namespace, revision (a string), updated, status, chart, app_version`) - no helm here can
  print it without a cluster.
- `RolloutSim` plays the Argo Rollouts controller as its status shows it (`phase`, `currentStepIndex`,
  `pauseConditions`, `stableRS`, `currentPodHash`, `abort`, `canary.weights`): a template change starts
  the steps, a pause waits for `pauseConditions: null`, `promoteFull` and `abort` do what they say, and
  going back to a recent template is immediate (`rollbackWindow`).
- `FakeArgoCD` answers like Argo CD's application API (`GET /api/v1/applications/{name}`,
  `GET .../resource`, `POST .../resource/actions`), with a small JSON built from the fields Argo CD's
  swagger documents (`status.sync.status/revision`, `status.health.status`, `status.operationState`).
  Like Argo CD it reads the config repository (a real bare git repository): it "syncs" the branch's
  tip after a few polls, and its Rollout follows the image in the committed values.yaml.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bayat_deploy.deploy.targets.base import Release
from bayat_deploy.deploy.targets.commands import CommandResult, RecordingRunner
from tests.conftest import REPO

CHART = REPO / "examples" / "hello-api" / "chart"
TOOLS = REPO / ".tools" / "bin"


def tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=f"{TOOLS}:{REPO / '.venv' / 'bin'}")
    assert found, f"{name} is not installed; run scripts/setup"
    return found


def make_repo(root: Path, policy: dict) -> Path:
    """A scratch service repository: the example's chart plus the policy."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(CHART, root / "chart", dirs_exist_ok=True)
    (root / ".bayat").mkdir(exist_ok=True)
    (root / ".bayat" / "deploy.yml").write_text(yaml.safe_dump(policy, sort_keys=False))
    return root


CI_ENV = {"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "bayat/hello-api", "GITHUB_RUN_ID": "4242",
          "GITHUB_ACTOR": "alice", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
          "GITHUB_REF_NAME": "main", "GITHUB_SERVER_URL": "https://github.com"}


def open_session(root: Path, env: dict | None = None):
    from bayat_deploy.context import RunContext
    from bayat_deploy.platform import for_context
    from bayat_deploy.policy.loader import load_policy
    from bayat_deploy.session import Session

    loaded = load_policy(root / ".bayat" / "deploy.yml")
    # the File-type variables a GitLab project (or the secrets a GitHub environment) would hold; the recorded
    # kubectl/helm calls never read them, the access layer checks they are there
    kubeconfig = root / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    secrets = {e.credentials.kubeconfig: str(kubeconfig) for e in loaded.policy.environments.values()
               if e.credentials.kubeconfig}
    context = RunContext.from_environment(env={"HOME": str(root), "PATH": f"{TOOLS}:/usr/bin:/bin", **CI_ENV,
                                               **secrets, **(env or {})}, cwd=root)
    return Session(loaded, context, for_context(context, root))


def ok(stdout: str = "", stderr: str = "") -> CommandResult:
    return CommandResult(0, stdout, stderr)


def fail(stderr: str, code: int = 1) -> CommandResult:
    return CommandResult(code, "", stderr)


def option(argv: list[str], name: str) -> str | None:
    return argv[argv.index(name) + 1] if name in argv else None


def template_hash(image: str) -> str:
    return hashlib.sha256(image.encode()).hexdigest()[:10]


# ---------------------------------------------------------------------------- Argo Rollouts
@dataclass
class RolloutSim:
    name: str
    spec: dict = field(default_factory=dict)
    template: str = ""  # image of the pod template the Rollout follows
    stable: str = ""
    current: str = ""
    step: int | None = None
    paused: bool = False
    aborted: bool = False
    history: list[str] = field(default_factory=list)
    canary_pods: int = 0
    weight: int = 0

    @property
    def steps(self) -> list[dict]:
        return ((self.spec.get("strategy") or {}).get("canary") or {}).get("steps") or []

    @property
    def blue_green(self) -> bool:
        return "blueGreen" in (self.spec.get("strategy") or {})

    def set_template(self, image: str) -> None:
        new = template_hash(image)
        if not self.stable:  # first version: no steps
            self.stable = self.current = new
            self.history.append(new)
            return
        if new == self.stable or new in self.history[-3:]:  # back to stable, or within the rollback window
            self.stable = self.current = new
            self.step, self.paused, self.aborted, self.canary_pods, self.weight = None, False, False, 0, 0
            self.history.append(new)
            return
        self.current, self.aborted, self.weight = new, False, 0
        if self.blue_green:
            self.paused, self.canary_pods = True, self.spec.get("replicas", 1)
            return
        self.step = 0
        self._run()

    def _run(self) -> None:
        while self.step is not None and self.step < len(self.steps):
            step = self.steps[self.step]
            if "pause" in step:
                self.paused = True
                return
            if "setCanaryScale" in step and "replicas" in step["setCanaryScale"]:
                self.canary_pods = step["setCanaryScale"]["replicas"]
            if "setWeight" in step:
                self.weight = step["setWeight"]
                self.canary_pods = max(1, -(-self.spec.get("replicas", 1) * self.weight // 100))
            self.step += 1
        self._complete()

    def _complete(self) -> None:
        self.stable = self.current
        self.history.append(self.current)
        self.step, self.paused, self.canary_pods, self.weight = None, False, 0, 0

    def patch(self, patch: dict) -> None:
        status = patch.get("status") or {}
        if status.get("abort"):
            self.aborted, self.paused, self.weight, self.canary_pods = True, False, 0, 0
        elif status.get("promoteFull"):
            self._complete()
        elif "pauseConditions" in status:
            self.paused = False
            if self.blue_green:
                self._complete()
            else:
                self.step += 1
                self._run()

    def manifest(self) -> dict:
        in_progress = self.current != self.stable
        replicas = self.spec.get("replicas", 1)
        status = {"phase": "Degraded" if self.aborted else "Paused" if self.paused else
                  "Progressing" if in_progress else "Healthy",
                  "stableRS": self.stable, "currentPodHash": self.current, "abort": self.aborted or None,
                  "replicas": replicas + (self.canary_pods if in_progress else 0),
                  "updatedReplicas": self.canary_pods if in_progress else replicas,
                  "availableReplicas": replicas + (self.canary_pods if in_progress else 0)}
        if self.aborted:
            status["message"] = "RolloutAborted: Rollout aborted update to revision 2"
        if self.step is not None:
            status["currentStepIndex"] = self.step
        if self.paused:
            status["pauseConditions"] = [{"reason": "BlueGreenPause" if self.blue_green else "CanaryPauseStep",
                                          "startTime": "2024-05-01T12:00:00Z"}]
        if not self.blue_green:
            status["canary"] = {"weights": {"canary": {"weight": self.weight if in_progress else 0,
                                                       "podTemplateHash": self.current},
                                            "stable": {"weight": 100 - (self.weight if in_progress else 0),
                                                       "podTemplateHash": self.stable}}}
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": self.name},
                "spec": self.spec, "status": {k: v for k, v in status.items() if v is not None}}


# ---------------------------------------------------------------------------- helm + kubectl
@dataclass
class HelmRelease:
    name: str
    revision: int
    objects: dict[tuple[str, str], dict]
    values: str
    history: dict[int, tuple[dict, str]] = field(default_factory=dict)


class FakeCluster:
    """The cluster behind a RecordingRunner, in helm's and kubectl's own output formats."""

    def __init__(self, runner: RecordingRunner, namespace: str):
        self.runner, self.namespace = runner, namespace
        self.releases: dict[str, HelmRelease] = {}
        self.applied: dict[tuple[str, str], dict] = {}
        self.rollout: RolloutSim | None = None
        self.failing: set[str] = set()  # helm releases whose install fails (pods never ready)
        self.unhealthy: set[str] = set()  # deployments whose rollout status fails
        for prefix, answer in ((["helm", "list"], self.helm_list), (["helm", "upgrade"], self.helm_upgrade),
                               (["helm", "template"], self.helm_template),
                               (["helm", "uninstall"], self.helm_uninstall), (["helm", "rollback"], self.helm_rollback),
                               (["kubectl", "get", "deployments,services,ingresses"], self.kubectl_get),
                               (["kubectl", "get", "rollout"], self.get_rollout),
                               (["kubectl", "patch", "service"], self.patch_service),
                               (["kubectl", "patch", "rollout"], self.patch_rollout),
                               (["kubectl", "apply"], self.apply), (["kubectl", "delete"], self.delete),
                               (["kubectl", "rollout", "status"], self.rollout_status)):
            runner.answer(prefix, answer)

    # -- helm
    def helm_list(self, argv, _input) -> CommandResult:
        return ok(json.dumps([{"name": r.name, "namespace": self.namespace, "revision": str(r.revision),
                               "updated": "2024-05-01 12:00:00.000000000 +0000 UTC", "status": "deployed",
                               "chart": "hello-api-0.1.0", "app_version": "0.1.0"} for r in self.releases.values()]))

    def render(self, name: str, chart: str, values: str) -> dict[tuple[str, str], dict]:
        proc = subprocess.run([tool("helm"), "template", name, chart, "--namespace", self.namespace, "--values",
                               values], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(proc.stdout) if d}

    def helm_template(self, argv, _input) -> CommandResult:
        """`helm template` needs no cluster: the real helm answers it."""
        proc = subprocess.run([tool("helm"), *argv[1:]], capture_output=True, text=True)
        return CommandResult(proc.returncode, proc.stdout, proc.stderr)

    def helm_upgrade(self, argv, _input) -> CommandResult:
        name, chart, values = argv[3], argv[4], option(argv, "--values")
        if name in self.failing:
            return fail(f"Error: UPGRADE FAILED: release {name} failed, and has been rolled back due to atomic "
                        "being set: context deadline exceeded")
        objects = self.render(name, chart, values)
        release = self.releases.get(name)
        revision = release.revision + 1 if release else 1
        kept = release.history if release else {}
        live = release.objects.get(("Service", name)) if release else None
        if live is not None and ("Service", name) in objects:  # live selector patches survive as helm merges them
            objects[("Service", name)]["spec"]["selector"] = {**live["spec"]["selector"],
                                                              **objects[("Service", name)]["spec"]["selector"]}
        self.releases[name] = HelmRelease(name, revision, objects, Path(values).read_text(),
                                          {**kept, revision: (objects, Path(values).read_text())})
        self._template_changed(name, objects)
        return ok(f'Release "{name}" has been upgraded. Happy Helming!\n')

    def _template_changed(self, name: str, objects: dict) -> None:
        deployment = objects.get(("Deployment", name))
        if self.rollout is not None and self.rollout.name == name and deployment is not None:
            self.rollout.template = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            if self.rollout.spec:
                self.rollout.set_template(self.rollout.template)

    def helm_uninstall(self, argv, _input) -> CommandResult:
        self.releases.pop(argv[2], None)
        return ok(f'release "{argv[2]}" uninstalled\n')

    def helm_rollback(self, argv, _input) -> CommandResult:
        release = self.releases[argv[2]]
        objects, values = release.history[int(argv[3])]
        release.revision += 1
        release.objects, release.values = objects, values
        release.history[release.revision] = (objects, values)
        self._template_changed(release.name, objects)
        return ok("Rollback was a success! Happy Helming!\n")

    # -- kubectl
    def objects(self) -> list[dict]:
        found = [o for r in self.releases.values() for o in r.objects.values()]
        return found + list(self.applied.values())

    def kubectl_get(self, argv, _input) -> CommandResult:
        selector = option(argv, "--selector")
        names = selector[selector.index("(") + 1:-1].split(",")
        items = [o for o in self.objects() if o["kind"] in ("Deployment", "Service", "Ingress")
                 and o["metadata"].get("labels", {}).get("app.kubernetes.io/instance") in names]
        return ok(json.dumps({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}))

    def service(self, name: str) -> dict:
        return self.releases[name.split(".")[0]].objects[("Service", name)]

    def patch_service(self, argv, _input) -> CommandResult:
        name, patch, kind = argv[3], json.loads(option(argv, "--patch")), option(argv, "--type")
        service = self.releases[name].objects[("Service", name)]
        if kind == "merge":
            service["spec"]["selector"].update(patch["spec"]["selector"])
        else:
            for operation in patch:
                service["spec"]["selector"].pop(operation["path"].rsplit("/", 1)[-1])
        return ok(f"service/{name} patched\n")

    def apply(self, argv, text) -> CommandResult:
        lines = []
        for document in yaml.safe_load_all(text):
            if not document:
                continue
            key = (document["kind"], document["metadata"]["name"])
            self.applied[key] = document
            if document["kind"] == "Rollout":
                if self.rollout is None:
                    self.rollout = RolloutSim(key[1])
                self.rollout.spec = document["spec"]
                deployment = self.releases.get(key[1])
                if not self.rollout.stable and deployment and ("Deployment", key[1]) in deployment.objects:
                    self._template_changed(key[1], deployment.objects)
            lines.append(f"{document['kind'].lower()}/{key[1]} configured")
        return ok("\n".join(lines) + "\n")

    def delete(self, argv, _input) -> CommandResult:
        selector = option(argv, "--selector")
        if selector is None:
            self.applied.pop((argv[2].capitalize(), argv[3]), None)
            return ok(f"{argv[2]}.networking.k8s.io \"{argv[3]}\" deleted\n")
        wanted = dict(pair.split("=") for pair in selector.split(","))
        gone = [key for key, document in self.applied.items()
                if wanted.items() <= (document["metadata"].get("labels") or {}).items()]
        for key in gone:
            del self.applied[key]
            if key[0] == "Rollout":
                self.rollout = None
        return ok("".join(f"{kind.lower()} \"{name}\" deleted\n" for kind, name in gone))

    def rollout_status(self, argv, _input) -> CommandResult:
        name = argv[3].split("/", 1)[1]
        if name in self.unhealthy or name not in self.releases:
            return fail(f'error: deployment "{name}" exceeded its progress deadline')
        return ok(f'deployment "{name}" successfully rolled out\n')

    def get_rollout(self, argv, _input) -> CommandResult:
        if self.rollout is None or not self.rollout.spec:
            return fail(f'Error from server (NotFound): rollouts.argoproj.io "{argv[3]}" not found')
        return ok(json.dumps(self.rollout.manifest()))

    def patch_rollout(self, argv, _input) -> CommandResult:
        self.rollout.patch(json.loads(option(argv, "--patch")))
        return ok(f"rollout.argoproj.io/{argv[3]} patched\n")

    # -- reading back
    def selector(self, release: str) -> dict:
        return self.releases[release].objects[("Service", release)]["spec"]["selector"]

    def deployment(self, name: str) -> dict:
        return self.releases[name].objects[("Deployment", name)]


# ---------------------------------------------------------------------------- Argo CD
class FakeArgoCD:
    def __init__(self, bare: Path, *, application: str, branch: str, path: str, token: str = "argocd-token"):
        self.bare, self.application, self.branch, self.path, self.token = bare, application, branch, path, token
        self.behaviour = "sync"  # sync | stuck | degraded
        self.polls_before_sync = 2
        self.revision = ""
        self.rollout: RolloutSim | None = None
        self.requests: list[tuple[str, str, dict, object]] = []
        self.deleted = False
        self._seen_head, self._polls = "", 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "--git-dir", str(self.bare), *args], capture_output=True, text=True,
                              check=True).stdout

    def actions(self) -> list[str]:
        return [body for method, path, _, body in self.requests if path.endswith("/resource/actions")]

    # -- what Argo CD would do
    def _observe(self) -> None:
        head = self.git("rev-parse", self.branch).strip()
        if head != self._seen_head:
            self._seen_head, self._polls = head, 0
        self._polls += 1
        if self.behaviour != "stuck" and head != self.revision and self._polls > self.polls_before_sync:
            self._sync(head)

    def _sync(self, head: str) -> None:
        self.revision = head
        values = yaml.safe_load(self.git("show", f"{head}:{self.path}/values.yaml"))
        image = f"{values['image']['repository']}:{values['image']['tag']}"
        listed = self.git("ls-tree", "--name-only", head, f"{self.path}/chart/templates/")
        if "bayat-rollout.yaml" in listed:
            text = self.git("show", f"{head}:{self.path}/chart/templates/bayat-rollout.yaml")
            spec = next(d for d in yaml.safe_load_all(text) if d and d["kind"] == "Rollout")["spec"]
            if self.rollout is None:
                self.rollout = RolloutSim(values.get("fullnameOverride", "app"))
            self.rollout.spec = spec
            self.rollout.set_template(image)

    def application_json(self) -> dict:
        synced = self.revision and self.revision == self._seen_head
        health = "Progressing"
        if synced:
            health = "Healthy"
            if self.behaviour == "degraded":
                health = "Degraded"
            elif self.rollout is not None and self.rollout.aborted:
                health = "Degraded"
            elif self.rollout is not None and self.rollout.paused:
                health = "Suspended"
        status = {"sync": {"status": "Synced" if synced else "OutOfSync", "revision": self.revision,
                           "comparedTo": {"source": {"repoURL": str(self.bare), "path": f"{self.path}/chart",
                                                     "targetRevision": self.branch}}},
                  "health": {"status": health},
                  "reconciledAt": "2024-05-01T12:00:00Z"}
        if self.revision:
            status["operationState"] = {"phase": "Succeeded", "message": "successfully synced (all tasks run)",
                                        "syncResult": {"revision": self.revision}}
        return {"metadata": {"name": self.application, "namespace": "argocd"},
                "spec": {"source": {"repoURL": str(self.bare), "path": f"{self.path}/chart",
                                    "targetRevision": self.branch}}, "status": status}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, code: int, document: object) -> None:
                body = json.dumps(document).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _route(self, method: str) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((method, parts.path, query, body))
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._answer(401, {"error": "invalid session", "code": 16})
                base = f"/api/v1/applications/{fake.application}"
                if method == "GET" and parts.path == base:
                    fake._observe()
                    return self._answer(200, fake.application_json())
                if method == "GET" and parts.path == base + "/resource" and fake.rollout is not None:
                    return self._answer(200, {"manifest": json.dumps(fake.rollout.manifest())})
                if method == "POST" and parts.path == base + "/resource/actions" and fake.rollout is not None:
                    patch = {"resume": {"status": {"pauseConditions": None}},
                             "promote-full": {"status": {"promoteFull": True}},
                             "abort": {"status": {"abort": True}}}[body]
                    fake.rollout.patch(patch)
                    return self._answer(200, {})
                return self._answer(404, {"error": "not found", "code": 5})

            def do_GET(self):
                self._route("GET")

            def do_POST(self):
                self._route("POST")

            def do_DELETE(self):
                parts = urlsplit(self.path)
                fake.requests.append(("DELETE", parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                                      None))
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self._answer(401, {"error": "invalid session", "code": 16})
                fake.deleted = parts.path == f"/api/v1/applications/{fake.application}"
                return self._answer(200 if fake.deleted else 404, {})

        return Handler


# ---------------------------------------------------------------------------- one environment, end to end
READS = (["helm", "list"], ["kubectl", "get"], ["helm", "template"])  # helm template: a local render


def release(version: str) -> Release:
    return Release(version=version, image=f"registry.example.com/bayat/hello-api:{version}",
                   digest="sha256:" + hashlib.sha256(version.encode()).hexdigest())


class Smoke:
    """Stands in for the HTTP smoke tests (in-cluster URLs are unreachable here): every check passes
    until `fail_from` checks have been made, counting from the last `reset`."""

    def __init__(self):
        self.fail_from: int | None = None
        self.urls: list[str] = []

    def reset(self, fail_from: int | None = None) -> None:
        self.fail_from, self.urls = fail_from, []

    def __call__(self, url: str, version: str):
        from bayat_deploy.deploy.strategies import Verdict

        self.urls.append(url)
        if self.fail_from is not None and len(self.urls) >= self.fail_from:
            return Verdict("fail", f"GET {url}/health answered 500"), []
        return Verdict("pass", "2 check(s) passed"), []


@dataclass
class KubeEnv:
    root: Path
    environment: str
    session: object
    runner: RecordingRunner
    cluster: FakeCluster
    deployment: object
    smoke: Smoke

    @property
    def target(self):
        return self.deployment.target

    def deploy(self, version: str):
        self.deployment.say = lambda text: None
        return self.deployment.deploy(release(version))

    def commands(self, reads: bool = False) -> list[list[str]]:
        """The command lines run so far, paths shown as <chart> and <state>; reads left out unless asked."""
        chart, state = str(self.root / "repo" / "chart"), str(self.target.state_dir)
        shown = []
        for argv in self.runner.commands:
            if not reads and any(argv[: len(p)] == p for p in READS):
                continue
            shown.append([a.replace(chart, "<chart>").replace(state, "<state>") for a in argv])
        return shown


def kube_env(tmp_path: Path, policy: dict, environment: str, env: dict | None = None,
             real: tuple = ()) -> KubeEnv:
    from bayat_deploy.deploy.engine import Deployment
    from bayat_deploy.deploy.record import Record
    from bayat_deploy.deploy.state.directory import DirectoryStore
    from bayat_deploy.deploy.targets.kubernetes import kubernetes_target

    repo = make_repo(tmp_path / "repo", policy)
    session = open_session(repo, env)
    runner = RecordingRunner(real=real)
    target = kubernetes_target(session, environment, runner=runner)
    target.poll_interval = 0.01
    cluster = FakeCluster(runner, target.names.namespace)
    deployment = Deployment(session, environment)
    target.store = DirectoryStore(target.state_dir)  # the strategies' tests; the cluster store: test_state_kubernetes
    deployment.target, deployment.record = target, Record(target.store)
    smoke = Smoke()
    deployment.smoke = smoke
    return KubeEnv(tmp_path, environment, session, runner, cluster, deployment, smoke)
