"""State in the cluster: a ConfigMap per environment for the record and the tracks, a Lease as the lock.

Every machine that has the environment's kubeconfig (the deploy job, the rollback job on another
runner, a laptop) reads and writes the same objects, so nothing depends on the runner's disk. The
calls go through `kubectl get|create|replace --raw`, so whatever authentication the kubeconfig uses
(a token, a client certificate, an exec plugin such as `aws eks get-token` or `gke-gcloud-auth-plugin`)
works unchanged.

Writes are optimistic: a `replace` carries the `resourceVersion` that was read, the API server
answers 409 Conflict when someone else wrote in between, and the change is re-applied to the newer
text. The Lease follows the coordination.k8s.io/v1 conventions: `holderIdentity`, `acquireTime`,
`renewTime`, `leaseDurationSeconds`, `leaseTransitions`. The holder renews it while the deployment
runs; a job that dies stops renewing, and after `leaseDurationSeconds` the next deployment may take it
over (so a crashed runner never blocks an environment for good).

A ConfigMap holds at most 1 MiB: roughly a thousand record entries. Beyond that the API server refuses
the write and the error says so.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from bayat_deploy.deploy.state.base import DeploymentLocked, Store, StoreError

MANAGED_BY = {"app.kubernetes.io/managed-by": "bayat-deploy"}
ATTEMPTS = 20  # optimistic-concurrency retries before giving up on a write


class ApiError(StoreError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def micro_time(moment: datetime) -> str:
    """metav1.MicroTime as the API server writes it: RFC 3339 with microseconds, UTC."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


class KubernetesStore(Store):
    def __init__(self, *, namespace: str, name: str, runner, context: str | None = None,
                 lease_seconds: int = 60, labels: dict[str, str] | None = None):
        self.namespace, self.name, self.context = namespace, name, context
        self.runner = runner
        self.lease_seconds = lease_seconds
        self.labels = {**MANAGED_BY, **(labels or {})}
        self.where = f"ConfigMap {namespace}/{name}"
        self.configmaps = f"/api/v1/namespaces/{namespace}/configmaps"
        self.leases = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"

    def describe(self, key: str) -> str:
        return f"{self.where}, key {key}"

    # ------------------------------------------------------------------ API calls
    def _call(self, verb: str, path: str, body: dict | None = None) -> dict:
        argv = ["kubectl", verb, "--raw", path]
        if body is not None:
            argv += ["--filename", "-"]
        if self.context:
            argv += ["--context", self.context]
        result = self.runner.run(argv, input=json.dumps(body) if body is not None else None)
        if result.ok:
            try:
                return json.loads(result.stdout) if result.stdout.strip() else {}
            except json.JSONDecodeError as exc:
                raise StoreError(f"{' '.join(argv[:4])}: the API server's answer is not JSON: {exc}") from None
        message = result.message(5)
        reason = next((r for r in ("NotFound", "AlreadyExists", "Conflict", "Forbidden", "Unauthorized",
                                   "RequestEntityTooLarge", "Invalid") if f"({r})" in message), "")
        if not reason and "request is invalid" in message:  # how kubectl words a 422
            reason = "Invalid"
        raise ApiError(reason, f"kubectl {verb} --raw {path} failed: {message}")

    def _get(self, path: str) -> dict | None:
        try:
            return self._call("get", path)
        except ApiError as exc:
            if exc.reason == "NotFound":
                return None
            raise

    def _create(self, collection: str, body: dict) -> dict:
        try:
            return self._call("create", collection, body)
        except ApiError as exc:
            if exc.reason != "NotFound":  # the namespace does not exist yet: first deployment
                raise
        self._call("create", "/api/v1/namespaces", {
            "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.namespace, "labels": MANAGED_BY}})
        return self._call("create", collection, body)

    def _metadata(self, name: str) -> dict:
        return {"name": name, "namespace": self.namespace, "labels": dict(self.labels)}

    # ------------------------------------------------------------------ documents
    def read(self, key: str) -> str | None:
        configmap = self._get(f"{self.configmaps}/{self.name}")
        return ((configmap or {}).get("data") or {}).get(key)

    def update(self, key: str, change: Callable[[str | None], str]) -> str:
        for _ in range(ATTEMPTS):
            configmap = self._get(f"{self.configmaps}/{self.name}")
            text = change(((configmap or {}).get("data") or {}).get(key))
            try:
                if configmap is None:
                    self._create(self.configmaps, {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": self._metadata(self.name), "data": {key: text}})
                else:
                    configmap["data"] = {**(configmap.get("data") or {}), key: text}
                    self._call("replace", f"{self.configmaps}/{self.name}", configmap)
                return text
            except ApiError as exc:
                if exc.reason not in ("Conflict", "AlreadyExists"):
                    if exc.reason in ("RequestEntityTooLarge", "Invalid"):
                        raise StoreError(f"{self.where} cannot take more ({exc}); archive old record entries "
                                         f"with `kubectl get configmap` and remove them") from None
                    raise
            time.sleep(0.05)
        raise StoreError(f"{self.where}: {ATTEMPTS} concurrent writers in a row changed {key}; giving up")

    # ------------------------------------------------------------------ lock
    @contextmanager
    def lock(self, holder: str, timeout: float = 600.0) -> Iterator[None]:
        identity = f"{holder} [{uuid.uuid4().hex[:8]}]"
        name = f"{self.name}-lock"
        lease = self._acquire(name, identity, timeout)
        stop = threading.Event()
        keeper = threading.Thread(target=self._keep, args=(name, identity, lease, stop), daemon=True)
        keeper.start()
        try:
            yield
        finally:
            stop.set()
            keeper.join()
            self._release(name, identity)

    def _lease_body(self, name: str, identity: str, previous: dict | None, now: datetime) -> dict:
        spec = (previous or {}).get("spec") or {}
        body = previous or {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                            "metadata": self._metadata(name)}
        body["spec"] = {"holderIdentity": identity, "leaseDurationSeconds": self.lease_seconds,
                        "acquireTime": micro_time(now), "renewTime": micro_time(now),
                        "leaseTransitions": int(spec.get("leaseTransitions") or 0) + (1 if previous else 0)}
        return body

    def _acquire(self, name: str, identity: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        announced = ""
        while True:
            lease = self._get(f"{self.leases}/{name}")
            now = datetime.now(timezone.utc)
            spec = (lease or {}).get("spec") or {}
            current = spec.get("holderIdentity") or ""
            renewed = parse_time(spec.get("renewTime")) or parse_time(spec.get("acquireTime"))
            expired = renewed is None or renewed + timedelta(seconds=int(spec.get("leaseDurationSeconds") or 0)) < now
            if lease is None or not current or expired:
                try:
                    if lease is None:
                        return self._create(self.leases, self._lease_body(name, identity, None, now))
                    return self._call("replace", f"{self.leases}/{name}", self._lease_body(name, identity, lease, now))
                except ApiError as exc:
                    if exc.reason not in ("Conflict", "AlreadyExists"):
                        raise
                    continue  # someone else got there first: look again
            if time.monotonic() >= deadline:
                raise DeploymentLocked(f"another deployment holds Lease {self.namespace}/{name} ({current}, "
                                       f"renewed {spec.get('renewTime')}); gave up after {timeout:g}s")
            if announced != current:
                print(f"waiting for the deployment lock held by: {current}", flush=True)
                announced = current
            time.sleep(min(1.0, max(0.1, deadline - time.monotonic())))

    def _keep(self, name: str, identity: str, lease: dict, stop: threading.Event) -> None:
        """Renew the Lease every third of its duration until the deployment ends."""
        while not stop.wait(self.lease_seconds / 3):
            try:
                current = self._get(f"{self.leases}/{name}") or {}
                if (current.get("spec") or {}).get("holderIdentity") != identity:
                    print(f"warning: the deployment lock {self.namespace}/{name} was taken over by "
                          f"{(current.get('spec') or {}).get('holderIdentity')}", flush=True)
                    return
                current["spec"]["renewTime"] = micro_time(datetime.now(timezone.utc))
                self._call("replace", f"{self.leases}/{name}", current)
            except StoreError as exc:  # a blip: the next renewal tries again, well inside the duration
                print(f"warning: could not renew the deployment lock: {exc}", flush=True)

    def _release(self, name: str, identity: str) -> None:
        for _ in range(ATTEMPTS):
            lease = self._get(f"{self.leases}/{name}")
            spec = (lease or {}).get("spec") or {}
            if lease is None or spec.get("holderIdentity") != identity:
                return
            lease["spec"] = {key: value for key, value in spec.items()
                             if key not in ("holderIdentity", "acquireTime", "renewTime")}
            try:
                self._call("replace", f"{self.leases}/{name}", lease)
                return
            except ApiError as exc:
                if exc.reason != "Conflict":
                    raise
