"""PyPI trusted publishing in scripts/release: the job's OIDC token is traded for a short-lived upload token.

Neither GitHub's token service nor PyPI is reachable here, so one local server answers both in the shapes
their documentation gives: the runner's `ACTIONS_ID_TOKEN_REQUEST_URL` (`{"value": <jwt>}`), PyPI's
`/_/oidc/audience` (`{"audience": ...}`) and `/_/oidc/mint-token` (`{"token": ...}`, or an error body).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util

import pytest

from tests.conftest import REPO
from tests.support.jsonserver import JsonServer


def load_release():
    loader = importlib.machinery.SourceFileLoader("bayat_release_script", str(REPO / "scripts" / "release"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class Oidc(JsonServer):
    def __init__(self, mint_status: int = 200):
        super().__init__()
        self.mint_status = mint_status
        self.seen: list[tuple[str, str, str]] = []

    def answer(self, method, path, query, body, headers):
        full = f"{path}?{query}" if query else path
        self.seen.append((method, full, body["token"] if body else headers.get("Authorization") or ""))
        if (method, path) == ("GET", "/pypi/_/oidc/audience"):
            return 200, {"audience": "pypi"}
        if (method, full) == ("GET", "/token?api-version=2.0&audience=pypi"):
            if headers.get("Authorization") != "bearer runner-request-token":
                return 401, {"message": "bad request token"}
            return 200, {"value": "eyJ.job-identity.sig"}
        if (method, path) == ("POST", "/pypi/_/oidc/mint-token"):
            if self.mint_status != 200:
                return self.mint_status, {"message": "Token request failed", "errors": [
                    {"code": "invalid-publisher", "description": "valid token, but no corresponding publisher"}]}
            return 200, {"success": True, "token": "pypi-AgEIcHlwaS5vcmc-minted"}
        return 404, {}


@pytest.fixture
def job(monkeypatch):
    servers = []

    def start(mint_status: int = 200) -> Oidc:
        server = Oidc(mint_status)
        servers.append(server)
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{server.url}/token?api-version=2.0")
        monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token")
        monkeypatch.setenv("PYPI_OIDC_URL", f"{server.url}/pypi")
        monkeypatch.delenv("PYPI_TOKEN", raising=False)
        return server

    yield start
    for server in servers:
        server.close()


def test_the_minted_token_is_the_upload_password_and_is_masked(job, capsys):
    import os

    server = job()
    load_release().mint_pypi_token()
    assert os.environ["PYPI_USERNAME"] == "__token__" and os.environ["PYPI_TOKEN"] == "pypi-AgEIcHlwaS5vcmc-minted"
    assert capsys.readouterr().out == "::add-mask::pypi-AgEIcHlwaS5vcmc-minted\n"
    assert server.seen == [("GET", "/pypi/_/oidc/audience", ""),
                           ("GET", "/token?api-version=2.0&audience=pypi", "bearer runner-request-token"),
                           ("POST", "/pypi/_/oidc/mint-token", "eyJ.job-identity.sig")]


def test_a_workflow_pypi_does_not_trust_says_how_to_fix_it(job):
    job(mint_status=422)
    release = load_release()
    with pytest.raises(release.ReleaseError, match="trusted publisher") as caught:
        release.mint_pypi_token()
    assert "invalid-publisher" in str(caught.value)
