"""Argo CD's REST API, the few calls a GitOps deployment needs (paths and fields as in Argo CD's
published swagger, `assets/swagger.json`):

- `GET /api/v1/applications/{name}[?refresh=normal]`: `status.sync.status` (Synced | OutOfSync |
  Unknown), `status.sync.revision` (the commit the live state matches), `status.health.status`
  (Healthy | Progressing | Degraded | Suspended | Missing | Unknown), `status.operationState`
  (`phase`, `message`, `syncResult.revision`). `refresh=normal` asks Argo CD to look at git now.
- `GET /api/v1/applications/{name}/resource?namespace=&resourceName=&group=&version=&kind=`:
  `{"manifest": "<the live object as a JSON string>"}` - how a Rollout stands.
- `POST /api/v1/applications/{name}/resource/actions?...` with the action name as a JSON string body
  (`"resume"`, `"promote-full"`, `"abort"`): Argo CD's built-in Rollout actions.

The server and token come from the run context: `ARGOCD_SERVER` (host[:port] as the argocd CLI
takes it, or a full URL) and `ARGOCD_AUTH_TOKEN` (sent as a Bearer token).
"""

from __future__ import annotations

import json
import time

from bayat_deploy.deploy.targets.kubernetes.rollouts import RolloutControl, RolloutStatus
from bayat_deploy.errors import BadInput, BayatError

ROLLOUT = {"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout"}


class ArgoCD:
    def __init__(self, server: str, token: str, *, timeout: float = 15.0):
        self.base = (server if "://" in server else f"https://{server}").rstrip("/")
        self.token, self.timeout = token, timeout

    @classmethod
    def from_context(cls, context) -> "ArgoCD":
        server, token = context.get("ARGOCD_SERVER"), context.get("ARGOCD_AUTH_TOKEN")
        if not server or not token:
            raise BadInput("GitOps with Argo CD waits for Argo CD's sync signal: set ARGOCD_SERVER (the Argo CD "
                           "API host) and ARGOCD_AUTH_TOKEN (an API token of an account that may read the "
                           "application and run its actions)")
        return cls(server, token)

    def _call(self, method: str, path: str, *, params: dict | None = None, body: object = None) -> dict:
        import requests

        try:
            answer = requests.request(method, self.base + path, params=params, timeout=self.timeout,
                                      headers={"Authorization": f"Bearer {self.token}"},
                                      data=None if body is None else json.dumps(body))
        except requests.RequestException as exc:
            raise ArgoCDUnreachable(f"Argo CD at {self.base} is unreachable: {type(exc).__name__}") from None
        if answer.status_code in (401, 403):
            raise BayatError(f"Argo CD refused the token ({answer.status_code}) for {method} {path}")
        if answer.status_code == 404:
            raise ArgoCDNotFound(f"Argo CD answered 404 to {method} {path}")
        if answer.status_code >= 400:
            raise BayatError(f"Argo CD answered {answer.status_code} to {method} {path}: {answer.text[:300]}")
        try:
            return answer.json() if answer.content else {}
        except ValueError:
            raise BayatError(f"Argo CD answered {method} {path} with something that is not JSON") from None

    def application(self, name: str, refresh: bool = False) -> dict:
        try:
            return self._call("GET", f"/api/v1/applications/{name}",
                              params={"refresh": "normal"} if refresh else None)
        except ArgoCDNotFound:
            raise BayatError(f"Argo CD has no application {name!r}: apply application.yaml from the environment's "
                             "directory in the config repository once (or list it in an app-of-apps)") from None

    def delete_application(self, name: str) -> None:
        """`DELETE /api/v1/applications/{name}?cascade=true`: the application and everything it deployed."""
        try:
            self._call("DELETE", f"/api/v1/applications/{name}", params={"cascade": "true"})
        except ArgoCDNotFound:
            pass

    def resource(self, name: str, *, namespace: str, resource_name: str, group: str, version: str,
                 kind: str) -> dict:
        answer = self._call("GET", f"/api/v1/applications/{name}/resource", params={
            "namespace": namespace, "resourceName": resource_name, "group": group, "version": version, "kind": kind})
        return json.loads(answer.get("manifest") or "{}")

    def run_action(self, name: str, action: str, *, namespace: str, resource_name: str, group: str, version: str,
                   kind: str) -> None:
        self._call("POST", f"/api/v1/applications/{name}/resource/actions", body=action, params={
            "namespace": namespace, "resourceName": resource_name, "group": group, "version": version, "kind": kind})


class ArgoCDUnreachable(BayatError):
    """Raised when Argo CD's API does not answer at all (the wait keeps trying until its deadline)."""


class ArgoCDNotFound(BayatError):
    """Raised when Argo CD does not know the application or resource asked for."""


def describe(application: dict) -> str:
    status = application.get("status") or {}
    sync, health = status.get("sync") or {}, status.get("health") or {}
    revision = (sync.get("revision") or "")[:12] or "no revision"
    text = f"sync {sync.get('status', 'Unknown')} at {revision}, health {health.get('status', 'Unknown')}"
    if health.get("message"):
        text += f" ({health['message']})"
    return text


def wait_synced(api: ArgoCD, name: str, commit: str, *, timeout: float, poll: float,
                accept: tuple[str, ...] = ("Healthy",), refresh: bool = True) -> str:
    """Wait until Argo CD says the application is Synced at `commit` and its health is in `accept`.
    `refresh`: the first read asks Argo CD to compare with git now instead of at its next poll."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        try:
            application = api.application(name, refresh=refresh)
            refresh = False
            status = application.get("status") or {}
            sync, health = status.get("sync") or {}, (status.get("health") or {}).get("status")
            operation = status.get("operationState") or {}
            last = describe(application)
            if sync.get("status") == "Synced" and sync.get("revision") == commit and health in accept:
                return f"Argo CD: {name} {last}"
            if sync.get("revision") == commit and health == "Degraded":
                raise BayatError(f"Argo CD application {name} is Degraded at {commit[:12]}: {last}")
            if ((operation.get("syncResult") or {}).get("revision") == commit
                    and operation.get("phase") in ("Failed", "Error")):
                raise BayatError(f"Argo CD could not sync {name} to {commit[:12]}: {operation.get('message', '')}")
        except ArgoCDUnreachable as exc:
            last = str(exc)
        if time.monotonic() >= deadline:
            raise BayatError(f"Argo CD application {name} did not report Synced and {'/'.join(accept)} at "
                             f"{commit[:12]} within {timeout:g}s; last seen: {last}")
        time.sleep(poll)


class ArgoCDRollout(RolloutControl):
    """A Rollout that Argo CD owns, read and driven through Argo CD's resource API and actions."""

    def __init__(self, api: ArgoCD, application: str, name: str, namespace: str):
        self.api, self.application, self.name, self.namespace = api, application, name, namespace

    def _where(self) -> dict:
        return {"namespace": self.namespace, "resource_name": self.name, **ROLLOUT}

    def status(self) -> RolloutStatus | None:
        try:
            manifest = self.api.resource(self.application, **self._where())
        except ArgoCDNotFound:
            return None
        return RolloutStatus.from_manifest(manifest) if manifest else None

    def resume(self) -> None:
        self.api.run_action(self.application, "resume", **self._where())

    def promote_full(self) -> None:
        self.api.run_action(self.application, "promote-full", **self._where())

    def abort(self) -> None:
        self.api.run_action(self.application, "abort", **self._where())
