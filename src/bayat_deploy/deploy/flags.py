"""Feature-flag state per environment, kept in a JSON file or served by an HTTP flag service.

The document for an environment is `{"flags": {name: {"enabled", "cohorts", "percent", "users",
"groups"}}}`: what an application (or its flag SDK) reads to decide who sees a feature. Cohorts are
expanded into their users/groups/percent so the application needs no copy of the policy.
"""

from __future__ import annotations

import json
from pathlib import Path

from bayat_deploy.errors import BayatError
from bayat_deploy.policy.model import FeatureFlagSettings


def exposure(settings: FeatureFlagSettings, cohorts: list[str], percent: float = 0.0) -> dict:
    """The flag state that shows a feature to the given cohorts (`everyone` = all users)."""
    if "everyone" in cohorts:
        return {"enabled": True, "cohorts": ["everyone"], "percent": 100.0, "users": [], "groups": []}
    users, groups, share = [], [], percent
    for name in cohorts:
        cohort = settings.cohorts[name]
        users += list(cohort.users)
        groups += list(cohort.groups)
        if cohort.percent is not None:
            share = max(share, cohort.percent.value)
    return {"enabled": True, "cohorts": list(cohorts), "percent": share, "users": users, "groups": groups}


class FlagStore:
    def __init__(self, session, environment: str):
        self.session, self.environment = session, environment
        self.spec = session.policy.feature_flags.store

    @property
    def path(self) -> Path:
        path = Path(self.session.policy.substitute(self.spec.path, self.environment))
        return path if path.is_absolute() else self.session.root / path

    def read(self) -> dict:
        if self.spec.type == "http":
            return self._http("GET").json()
        if not self.path.exists():
            return {"environment": self.environment, "flags": {}}
        return json.loads(self.path.read_text())

    def write(self, document: dict) -> None:
        if self.spec.type == "http":
            self._http("PUT", document)
            return
        from bayat_deploy.fsutil import write_atomic

        write_atomic(self.path, json.dumps(document, indent=2, sort_keys=True) + "\n")

    def set(self, flag: str, state: dict) -> dict:
        """Set one flag; returns the previous state of that flag (to put it back)."""
        document = self.read()
        flags = document.setdefault("flags", {})
        previous = flags.get(flag, {"enabled": False, "cohorts": [], "percent": 0.0, "users": [], "groups": []})
        flags[flag] = state
        document["environment"] = self.environment
        self.write(document)
        return previous

    def _http(self, method: str, document: dict | None = None):
        import requests

        from bayat_deploy.secrets import resolve

        token = resolve(self.spec.token, self.session.context, what="feature_flags.store.token")
        url = f"{str(self.spec.url).rstrip('/')}/environments/{self.environment}/flags"
        try:
            response = requests.request(method, url, json=document, timeout=10,
                                        headers={"Authorization": f"Bearer {token}"} if token else {})
            response.raise_for_status()
        except requests.RequestException as exc:
            raise BayatError(f"flag service {url}: {exc}") from None
        return response
