"""GitLab CI: a dotenv report for outputs, Markdown reports as artifacts, collapsible log sections."""

from __future__ import annotations

import base64
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bayat_deploy.platform.base import Platform
from bayat_deploy.redact import redact

DOTENV = "bayat.env"  # declared as `artifacts: reports: dotenv:` by the components
SUMMARY = ".bayat/reports/summary.md"


class GitLab(Platform):
    name = "gitlab"

    def __init__(self, context, root: Path):
        super().__init__(context)
        self.root = Path(context.get("CI_PROJECT_DIR") or root)

    def git_credentials(self) -> list[str]:
        # CI_JOB_TOKEN cannot push; a project or group access token with write_repository can.
        token = self.context.get("BAYAT_GIT_TOKEN") or self.context.get("GITLAB_TOKEN")
        if not token:
            return []
        basic = base64.b64encode(f"oauth2:{token}".encode()).decode()
        server = self.context.get("CI_SERVER_URL", "https://gitlab.com").rstrip("/")
        return ["-c", f"http.{server}/.extraheader=AUTHORIZATION: basic {basic}"]

    def set_output(self, name: str, value: str) -> None:
        key = "BAYAT_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()
        if "\n" in value:  # GitLab's dotenv report is one line per variable
            value = value.replace("\n", " ")
        with (self.root / DOTENV).open("a", encoding="utf-8") as handle:
            handle.write(f"{key}={value}\n")

    def summary(self, markdown: str) -> None:
        path = self.root / SUMMARY
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(redact(markdown.rstrip()) + "\n\n")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        section = re.sub(r"[^a-z0-9_]", "_", title.lower())[:40] or "section"
        print(f"\x1b[0Ksection_start:{int(time.time())}:{section}[collapsed=true]\r\x1b[0K{title}")
        sys.stdout.flush()
        try:
            yield
        finally:
            print(f"\x1b[0Ksection_end:{int(time.time())}:{section}\r\x1b[0K")
