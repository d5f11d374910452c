"""Publishing packages: Helm charts to an OCI registry, Python distributions with twine, npm packages,
and plain files (Terraform module archives, OS packages) with HTTP PUT to a generic file registry.

Each publisher answers `check(file)` first — push, skip (the same content is there) or conflict (the
version exists with different content: versions are immutable) — and only then `upload(file)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from bayat_deploy import tools
from bayat_deploy.context import RunContext
from bayat_deploy.errors import BayatError
from bayat_deploy.registry.client import RegistryClient, sha256_digest
from bayat_deploy.registry.credentials import Credentials
from bayat_deploy.registry.reference import split_registry_url
from bayat_deploy.registry.retry import TRANSIENT_STATUS, TransientError, with_retries


@dataclass(frozen=True)
class Check:
    action: str  # push | skip | conflict
    reason: str
    location: str


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, path.read_bytes()).hexdigest()


def _member(archive: Path, suffix: str) -> bytes:
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name.count("/") == 1 and member.name.endswith(suffix):
                return tar.extractfile(member).read()
    raise BayatError(f"{archive.name} has no {suffix}")


def _conflict(location: str) -> Check:
    return Check("conflict", f"{location} already exists with different content; versions are immutable: "
                             "release a new version instead", location)


class HelmPublisher:
    """`helm push` to `oci://<registry>`; the chart's tag is its version (`+` becomes `_`, as helm does)."""

    def __init__(self, url: str, credentials: Credentials, *, insecure: bool, context: RunContext,
                 attempts: int, say: Callable[[str], None]):
        self.host, self.prefix = split_registry_url(url)
        self.credentials, self.insecure, self.context, self.attempts, self.say = (
            credentials, insecure, context, attempts, say)
        self.client = RegistryClient(self.host, username=credentials.username, password=credentials.password,
                                     insecure=insecure, attempts=attempts, say=say)

    def _chart(self, path: Path) -> tuple[str, str]:
        import yaml

        chart = yaml.safe_load(_member(path, "/Chart.yaml"))
        return chart["name"], str(chart["version"])

    def _repository(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def check(self, path: Path) -> Check:
        name, version = self._chart(path)
        tag = version.replace("+", "_")
        location = f"oci://{self.host}/{self._repository(name)}:{tag}"
        remote = self.client.manifest(self._repository(name), tag)
        if remote is None:
            return Check("push", "new version", location)
        if f"sha256:{file_digest(path)}" in remote.layer_digests:
            return Check("skip", "already in the registry with the same content", location)
        return _conflict(location)

    def upload(self, path: Path) -> str:
        """Push the chart; returns the manifest digest."""
        tools.require("helm", "install helm (scripts/setup puts it in .tools/bin)")
        plain = ["--plain-http"] if self.insecure else []
        with tempfile.TemporaryDirectory(prefix="bayat-helm-") as config:
            registry_config = ["--registry-config", str(Path(config) / "config.json")]
            env = self.context.tool_env()
            login = tools.run(["helm", "registry", "login", self.host, "--username", self.credentials.username or "",
                               "--password-stdin", *plain, *registry_config], env=env, timeout=120,
                              input=self.credentials.password)
            if login.returncode != 0:
                raise BayatError(f"helm registry login {self.host} failed: {login.stderr.strip()}")
            target = f"oci://{self.host}/{self.prefix}" if self.prefix else f"oci://{self.host}"

            def once() -> str:
                proc = tools.run(["helm", "push", str(path), target, *plain, *registry_config], env=env, timeout=600)
                output = proc.stdout + proc.stderr
                if proc.returncode != 0:
                    error = output.strip().splitlines()[-1] if output.strip() else f"exit {proc.returncode}"
                    if any(s in error.lower() for s in ("connection refused", "timeout", " 50", "429", "eof")):
                        raise TransientError(error)
                    raise BayatError(f"helm push {path.name} failed: {error}")
                match = re.search(r"Digest:\s*(sha256:[0-9a-f]{64})", output)
                return match[1] if match else ""

            return with_retries(once, what=f"helm push {path.name}", attempts=self.attempts, say=self.say)


class _HttpPublisher:
    def __init__(self, credentials: Credentials, attempts: int, say: Callable[[str], None]):
        import requests

        self.credentials, self.attempts, self.say = credentials, attempts, say
        self.session = requests.Session()
        if credentials.username:
            self.session.auth = (credentials.username, credentials.password)
        else:
            self.session.headers["Authorization"] = f"Bearer {credentials.password}"

    def _request(self, method: str, url: str, **kwargs):
        import requests

        def once():
            try:
                response = self.session.request(method, url, timeout=120, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise TransientError(f"cannot reach {urlsplit(url).netloc}: {exc.__class__.__name__}") from None
            if response.status_code in TRANSIENT_STATUS:
                raise TransientError(f"{urlsplit(url).netloc} answered {response.status_code}")
            if response.status_code in (401, 403):
                raise BayatError(f"{method} {url}: the registry refused the credentials ({response.status_code})")
            return response

        return with_retries(once, what=f"{method} {url}", attempts=self.attempts, say=self.say)


class GenericPublisher(_HttpPublisher):
    """Files PUT to `<url>/<name>/<version>/<file>` (Artifactory generic/Nexus raw/WebDAV layouts)."""

    def __init__(self, url: str, name: str, version: str, credentials: Credentials, *, attempts: int,
                 say: Callable[[str], None]):
        super().__init__(credentials, attempts, say)
        self.base = f"{url.rstrip('/')}/{name}/{version}"

    def check(self, path: Path) -> Check:
        location = f"{self.base}/{path.name}"
        response = self._request("GET", location)
        if response.status_code == 404:
            return Check("push", "new file", location)
        if response.status_code != 200:
            raise BayatError(f"GET {location}: the registry answered {response.status_code}")
        if hashlib.sha256(response.content).hexdigest() == file_digest(path):
            return Check("skip", "already in the registry with the same content", location)
        return _conflict(location)

    def upload(self, path: Path) -> str:
        location = f"{self.base}/{path.name}"
        response = self._request("PUT", location, data=path.read_bytes(),
                                 headers={"Content-Type": "application/octet-stream",
                                          "X-Checksum-Sha256": file_digest(path)})
        if response.status_code not in (200, 201, 204):
            raise BayatError(f"PUT {location}: the registry answered {response.status_code}: {response.text[:200]}")
        return f"sha256:{file_digest(path)}"


class PythonPublisher(_HttpPublisher):
    """twine upload to a PyPI-compatible index; existing files are found through its simple index."""

    def __init__(self, url: str, credentials: Credentials, *, context: RunContext, attempts: int,
                 say: Callable[[str], None]):
        super().__init__(credentials, attempts, say)
        self.url, self.context = url.rstrip("/"), context

    def check(self, path: Path) -> Check:
        project = re.sub(r"[-_.]+", "-", re.split(r"-\d", path.name, maxsplit=1)[0]).lower()
        index = f"{self.url}/simple/{project}/"
        location = f"{self.url} {path.name}"
        response = self._request("GET", index)
        if response.status_code == 404:
            return Check("push", "new project", location)
        if response.status_code != 200:
            raise BayatError(f"GET {index}: the index answered {response.status_code}")
        links = re.findall(r'href="([^"]*/' + re.escape(path.name) + r'(?:#[^"]*)?)"', response.text)
        if not links:
            return Check("push", "new file", location)
        fragment = re.search(r"#sha256=([0-9a-f]{64})", links[0])
        if fragment:
            same = fragment[1] == file_digest(path)
        else:
            href = links[0] if "://" in links[0] else f"{self.url}/{links[0].lstrip('/')}"
            same = hashlib.sha256(self._request("GET", href.split("#")[0]).content).hexdigest() == file_digest(path)
        return Check("skip", "already in the index with the same content", location) if same else _conflict(location)

    def upload(self, path: Path) -> str:
        tools.require("twine", "pip install twine")
        argv = ["twine", "upload", "--non-interactive", "--disable-progress-bar", "--repository-url", self.url,
                "--username", self.credentials.username or "__token__", str(path)]

        def once() -> str:
            proc = tools.run(argv, env=self.context.tool_env(TWINE_PASSWORD=self.credentials.password), timeout=600)
            if proc.returncode != 0:
                error = (proc.stderr + proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
                if any(s in error[0] for s in (" 500 ", " 502 ", " 503 ", " 504 ", " 429 ", "Connection")):
                    raise TransientError(error[0])
                raise BayatError(f"twine upload {path.name} failed: {error[0]}")
            return f"sha256:{file_digest(path)}"

        return with_retries(once, what=f"twine upload {path.name}", attempts=self.attempts, say=self.say)


class NpmPublisher:
    """npm publish with a private user config holding the token (never the user's ~/.npmrc)."""

    def __init__(self, url: str, credentials: Credentials, *, context: RunContext, attempts: int,
                 say: Callable[[str], None]):
        self.url, self.credentials, self.context, self.attempts, self.say = (
            url.rstrip("/") + "/", credentials, context, attempts, say)

    def _npm(self, *args: str) -> tuple[int, str, str]:
        tools.require("npm", "install Node.js and npm")
        scope = "//" + self.url.split("://", 1)[-1]
        if self.credentials.username:
            secret = base64.b64encode(self.credentials.password.encode()).decode()
            rc = f"{scope}:username={self.credentials.username}\n{scope}:_password={secret}\n"
        else:
            rc = f"{scope}:_authToken={self.credentials.password}\n"
        with tempfile.TemporaryDirectory(prefix="bayat-npm-") as tmp:
            userconfig = Path(tmp) / "npmrc"
            userconfig.write_text(rc)
            userconfig.chmod(0o600)
            proc = tools.run(["npm", *args, "--registry", self.url, "--userconfig", str(userconfig)], cwd=Path(tmp),
                             env=self.context.tool_env(), timeout=600)
        return proc.returncode, proc.stdout, proc.stderr

    def check(self, path: Path) -> Check:
        package = json.loads(_member(path, "/package.json"))
        spec = f"{package['name']}@{package['version']}"
        code, out, err = self._npm("view", spec, "dist.integrity", "--json")
        if code != 0:
            if "E404" in err or "404" in err:
                return Check("push", "new version", f"{self.url} {spec}")
            raise BayatError(f"npm view {spec} failed: {err.strip().splitlines()[-1] if err.strip() else code}")
        remote = json.loads(out) if out.strip() else None
        local = "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
        if remote == local:
            return Check("skip", "already in the registry with the same content", f"{self.url} {spec}")
        return _conflict(f"{self.url} {spec}")

    def upload(self, path: Path) -> str:
        def once() -> str:
            code, out, err = self._npm("publish", str(path.resolve()))
            if code != 0:
                error = err.strip().splitlines()[-1] if err.strip() else f"exit {code}"
                if any(s in err for s in ("ECONNREFUSED", "ETIMEDOUT", "ECONNRESET", " 503", " 502", " 429")):
                    raise TransientError(error)
                raise BayatError(f"npm publish {path.name} failed: {error}")
            return sha256_digest(path.read_bytes())

        return with_retries(once, what=f"npm publish {path.name}", attempts=self.attempts, say=self.say)
