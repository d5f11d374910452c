"""A real Docker registry (Debian's docker-registry) on loopback with htpasswd authentication."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests

USER, PASSWORD = "ci-bot", "s3cret-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LocalRegistry:
    host: str  # 127.0.0.1:PORT
    username: str
    password: str
    process: subprocess.Popen
    root: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def tags(self, repository: str) -> list[str]:
        response = requests.get(f"{self.url}/v2/{repository}/tags/list", auth=(self.username, self.password),
                                timeout=10)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return sorted(response.json().get("tags") or [])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_registry(root: Path) -> LocalRegistry:
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RuntimeError("docker-registry is not installed; run scripts/setup")
    root.mkdir(parents=True, exist_ok=True)
    htpasswd = root / "htpasswd"
    hashed = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True,
                            text=True).stdout
    htpasswd.write_text(hashed)
    port = free_port()
    config = root / "config.yml"
    config.write_text(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {root / 'data'}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
auth:
  htpasswd:
    realm: bayat-test
    path: {htpasswd}
""")
    log = (root / "registry.log").open("w")
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1).status_code in (200, 401):
                return LocalRegistry(f"127.0.0.1:{port}", USER, PASSWORD, process, root)
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"docker-registry did not start; see {root / 'registry.log'}")
