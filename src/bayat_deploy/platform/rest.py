"""A small JSON REST client shared by the GitHub and GitLab API clients: base URL, token header,
pagination by `Link: rel="next"` (both platforms send it), and errors that say what to fix.

Tokens go into headers only; no message, log line or exception ever contains one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

from bayat_deploy.errors import BayatError

MAX_PAGES = 50  # 5,000 items at 100 a page: far more than any approval log; stops a Link loop


class ApiError(BayatError):
    """Raised when a platform API cannot be reached or answers with an error."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RestClient:
    platform = "API"
    hints: dict[int, str] = {}

    def __init__(self, base_url: str, headers: dict[str, str], *, timeout: float = 30.0, session=None):
        self.base_url = base_url.rstrip("/") + "/"
        self.headers = headers
        self.timeout = timeout
        self._session = session

    @property
    def session(self):
        if self._session is None:
            import requests

            self._session = requests.Session()
            self._session.headers.update(self.headers)
        return self._session

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def _request(self, url: str, params: dict[str, Any] | None, needs: str = ""):
        import requests

        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ApiError(f"{self.platform} API {url}: cannot connect ({type(exc).__name__}: {exc})") from None
        if response.status_code >= 400:
            raise ApiError(self._error_text(url, response, needs=needs), response.status_code)
        try:
            return response, response.json()
        except ValueError:
            raise ApiError(f"{self.platform} API {url}: answered {response.status_code} without JSON "
                           f"({response.text[:200]!r})") from None

    def _error_text(self, url: str, response, *, method: str = "GET", needs: str = "") -> str:
        try:
            message = response.json().get("message") or response.json().get("error") or ""
        except (ValueError, AttributeError):
            message = response.text[:200]
        hint = self.hints.get(response.status_code, "")
        if needs and response.status_code in (401, 403, 404):
            hint = needs if response.status_code == 403 else f"{hint}; {needs}" if hint else needs
        if response.status_code in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
            hint = f"rate limit exhausted until {response.headers.get('x-ratelimit-reset', 'later')}"
        return (f"{self.platform} API {method} {url}: {response.status_code} {response.reason}"
                + (f": {message}" if message else "") + (f" ({hint})" if hint else ""))

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._request(self.url(path), params)[1]

    def send(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
             missing_ok: bool = False, needs: str = "") -> Any:
        """One request of any method: the JSON answer, or None for an empty one (204, a 303 "already
        there") and, with `missing_ok`, for a 404. `needs` says which permission the call needs; a 401,
        403 or 404 error names it."""
        import requests

        url = self.url(path)
        try:
            response = self.session.request(method, url, json=json, params=params, timeout=self.timeout,
                                            allow_redirects=False)
        except requests.RequestException as exc:
            raise ApiError(f"{self.platform} API {method} {url}: cannot connect ({type(exc).__name__}: {exc})") \
                from None
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise ApiError(self._error_text(url, response, method=method, needs=needs), response.status_code)
        if not response.content or response.status_code in (204, 303):
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"{self.platform} API {method} {url}: answered {response.status_code} without JSON "
                           f"({response.text[:200]!r})") from None

    def paginate(self, path: str, params: dict[str, Any] | None = None, *, key: str | None = None,
                 limit: int | None = None, needs: str = "") -> list:
        """Every item of a list endpoint, following `Link: <...>; rel="next"`. `key` names the list in an
        object response (GitHub wraps some lists); `limit` stops early; `needs` as for `send`."""
        items: list = []
        url, query = self.url(path), {"per_page": 100, **(params or {})}
        for _ in range(MAX_PAGES):
            response, body = self._request(url, query, needs)
            page = body.get(key, []) if key and isinstance(body, dict) else body
            if not isinstance(page, list):
                raise ApiError(f"{self.platform} API {url}: expected a list, got {type(page).__name__}")
            items.extend(page)
            following = response.links.get("next", {}).get("url")
            if not following or not page or (limit is not None and len(items) >= limit):
                break
            url, query = following, None  # the next link carries the query already
        return items if limit is None else items[:limit]
