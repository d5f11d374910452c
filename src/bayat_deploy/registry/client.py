"""A small client of the OCI distribution API (v2): manifests, blobs, tags, deletes, uploads.

Authentication follows the registry's challenge: HTTP basic, or a bearer token fetched from the
realm the `WWW-Authenticate` header names (Docker Hub, Harbor, GitLab, distribution with token
auth). Every call is retried on transient failures (see `retry`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from bayat_deploy.errors import BayatError
from bayat_deploy.registry.retry import DEFAULT_ATTEMPTS, TRANSIENT_STATUS, TransientError, with_retries

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[2:]
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(BayatError):
    """Raised when the registry answers a request with an error that retrying will not fix."""


@dataclass(frozen=True)
class Manifest:
    digest: str
    media_type: str
    body: bytes

    @property
    def document(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def config_digest(self) -> str | None:
        return None if self.is_index else (self.document.get("config") or {}).get("digest")

    @property
    def layer_digests(self) -> list[str]:
        return [layer["digest"] for layer in self.document.get("layers", [])]


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class RegistryClient:
    def __init__(self, host: str, *, username: str | None = None, password: str | None = None,
                 insecure: bool = False, attempts: int = DEFAULT_ATTEMPTS, timeout: float = 30,
                 say: Callable[[str], None] = print):
        import requests

        self.host, self.insecure = host, insecure
        self.base = f"{'http' if insecure else 'https'}://{host}"
        self._credentials = (username, password) if username and password else None
        self._session = requests.Session()
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        self._basic = False  # the registry asked for HTTP basic auth
        self.attempts, self.timeout, self.say = attempts, timeout, say

    # -- reading ------------------------------------------------------------------------------
    def manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest a tag or digest points at, or None when there is none."""
        response = self._call("GET", f"/v2/{repository}/manifests/{reference}", scope=f"repository:{repository}:pull",
                              headers={"Accept": ", ".join(MANIFEST_TYPES)}, missing_ok=True)
        if response is None:
            return None
        body = response.content
        digest = sha256_digest(body)
        announced = response.headers.get("Docker-Content-Digest")
        if announced and announced != digest and reference.startswith("sha256:"):
            raise RegistryError(f"{self.host}/{repository}@{reference}: the registry sent content whose digest is "
                                f"{digest}, not the one asked for")
        media_type = response.headers.get("Content-Type", "").split(";")[0] or json.loads(body).get("mediaType", "")
        return Manifest(digest, media_type, body)

    def blob(self, repository: str, digest: str) -> bytes:
        response = self._call("GET", f"/v2/{repository}/blobs/{digest}", scope=f"repository:{repository}:pull")
        return response.content

    def config(self, repository: str, manifest: Manifest) -> dict[str, Any]:
        """The image configuration (labels, created...) a manifest refers to; {} for an index."""
        digest = manifest.config_digest
        return json.loads(self.blob(repository, digest)) if digest else {}

    def tags(self, repository: str) -> list[str]:
        """All tags of a repository (following the `Link` pagination), [] when it does not exist."""
        tags: list[str] = []
        path: str | None = f"/v2/{repository}/tags/list?n=1000"
        while path:
            response = self._call("GET", path, scope=f"repository:{repository}:pull", missing_ok=True)
            if response is None:
                return tags
            tags.extend(response.json().get("tags") or [])
            link = response.links.get("next", {}).get("url")
            path = link if link and link.startswith("/") else None
        return tags

    # -- writing ------------------------------------------------------------------------------
    def delete_manifest(self, repository: str, digest: str) -> None:
        self._call("DELETE", f"/v2/{repository}/manifests/{digest}", scope=f"repository:{repository}:delete,pull")

    def upload_blob(self, repository: str, data: bytes) -> str:
        digest = sha256_digest(data)
        scope = f"repository:{repository}:push,pull"
        if self._call("HEAD", f"/v2/{repository}/blobs/{digest}", scope=scope, missing_ok=True) is not None:
            return digest
        started = self._call("POST", f"/v2/{repository}/blobs/uploads/", scope=scope)
        location = started.headers["Location"]
        separator = "&" if "?" in location else "?"
        self._call("PUT", f"{location}{separator}digest={digest}", scope=scope, data=data,
                   headers={"Content-Type": "application/octet-stream"})
        return digest

    def put_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        response = self._call("PUT", f"/v2/{repository}/manifests/{reference}",
                              scope=f"repository:{repository}:push,pull",
                              data=body, headers={"Content-Type": media_type})
        return response.headers.get("Docker-Content-Digest") or sha256_digest(body)

    # -- plumbing -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, scope: str, missing_ok: bool = False, **kwargs):
        url = path if path.startswith("http") else f"{self.base}{path}"
        what = f"{method} {self.host}{urlsplit(url).path}"
        return with_retries(lambda: self._once(method, url, scope, missing_ok, what, **kwargs), what=what,
                            attempts=self.attempts, say=self.say)

    def _once(self, method: str, url: str, scope: str, missing_ok: bool, what: str, **kwargs):
        import requests

        headers = dict(kwargs.pop("headers", {}))
        try:
            response = self._send(method, url, scope, headers, **kwargs)
            if response.status_code == 401 and self._authenticate(response, scope):
                response = self._send(method, url, scope, headers, **kwargs)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"cannot reach the registry at {self.base}: {_short(exc)}") from None
        if response.status_code in TRANSIENT_STATUS:
            raise TransientError(f"the registry answered {response.status_code}")
        if response.status_code == 404 and missing_ok:
            return None
        if response.status_code == 401:
            who = f"user {self._credentials[0]!r}" if self._credentials else "anonymous access"
            raise RegistryError(f"{what}: the registry refused {who} (401 unauthorized); check the credentials")
        if response.status_code == 403:
            raise RegistryError(f"{what}: permission denied (403)")
        if response.status_code == 405 and method == "DELETE":
            raise RegistryError(f"{what}: the registry does not allow deletes (405); enable deletion "
                                f"(distribution: storage.delete.enabled: true)")
        if response.status_code >= 400:
            raise RegistryError(f"{what}: the registry answered {response.status_code}: {_errors(response)}")
        return response

    def _send(self, method: str, url: str, scope: str, headers: dict, **kwargs):
        auth = None
        if scope in self._tokens:
            headers = {**headers, "Authorization": f"Bearer {self._tokens[scope]}"}
        elif self._basic:
            auth = self._credentials
        return self._session.request(method, url, headers=headers, auth=auth, timeout=self.timeout,
                                     allow_redirects=True, **kwargs)

    def _authenticate(self, response, scope: str) -> bool:
        """Answer the registry's challenge; True when the request is worth sending again."""
        challenge = response.headers.get("WWW-Authenticate", "")
        kind = challenge.split(" ", 1)[0].lower()
        if kind == "basic":
            self._basic = self._credentials is not None
            return self._basic
        if kind != "bearer":
            return False
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        if "realm" not in params:
            return False
        query = {"service": params.get("service", ""), "scope": params.get("scope") or scope}
        token_response = self._session.get(params["realm"], params=query, auth=self._credentials,
                                           timeout=self.timeout)
        if token_response.status_code in TRANSIENT_STATUS:
            raise TransientError(f"the token service answered {token_response.status_code}")
        if token_response.status_code != 200:
            return False
        data = token_response.json()
        token = data.get("token") or data.get("access_token")
        if not token:
            return False
        self._tokens[scope] = token
        return True


def _errors(response) -> str:
    try:
        errors = response.json().get("errors") or []
        return "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors) or response.text[:200]
    except ValueError:
        return response.text[:200]


def _short(exc: Exception) -> str:
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] [^')\]]+", text)
    return match.group(0) if match else text[:200]
