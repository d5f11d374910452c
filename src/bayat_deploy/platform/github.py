"""GitHub Actions: $GITHUB_OUTPUT, $GITHUB_STEP_SUMMARY and workflow commands."""

from __future__ import annotations

import base64
import secrets
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bayat_deploy.platform.base import Annotation, Platform
from bayat_deploy.redact import redact


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


class GitHub(Platform):
    name = "github"
    shows_annotations = True

    def _append(self, variable: str, text: str) -> None:
        path = self.context.get(variable)
        if path:
            with Path(path).open("a", encoding="utf-8") as handle:
                handle.write(text)

    def git_credentials(self) -> list[str]:
        # actions/checkout runs with persist-credentials: false, so the token is handed to this one push only.
        token = self.context.get("GITHUB_TOKEN")
        if not token:
            return []
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        server = self.context.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        return ["-c", f"http.{server}/.extraheader=AUTHORIZATION: basic {basic}"]

    def record_deployment(self, entry, *, url: str = "", production: bool = False) -> None:
        # The record is what the tool acts on; the trail is for people. A trail that cannot be written is a
        # warning on the run, never a failed deployment that in fact happened.
        from bayat_deploy.errors import BayatError
        from bayat_deploy.platform.deployments import AUDITED, trail_for

        if entry.action not in AUDITED or not entry.commit:
            return
        try:
            trail = trail_for(self.context, frozenset({entry.environment} if production else ()))
            number = trail.write(entry, url=url)
        except BayatError as exc:
            self.annotate(Annotation("warning", f"the {entry.action} of {entry.version or 'this version'} to "
                                                f"{entry.environment} is in the deployment record but not in "
                                                f"GitHub Deployments: {exc}", title="deployment audit trail"))
            return
        print(f"GitHub deployment {number} records this {entry.action} ({entry.outcome})", flush=True)

    def mask(self, value: str) -> None:
        # Written past the redacting stream: this one line must carry the value for the runner to hide it.
        stream = getattr(sys.stdout, "raw", sys.stdout)
        for line in value.splitlines():
            if line.strip():
                stream.write(f"::add-mask::{_escape_data(line)}\n")
        stream.flush()

    def set_output(self, name: str, value: str) -> None:
        # The heredoc form is safe for multi-line values; the delimiter is random so a value cannot end it.
        delimiter = f"ghadelimiter_{secrets.token_hex(8)}"
        self._append("GITHUB_OUTPUT", f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        self._append("GITHUB_STEP_SUMMARY", redact(markdown.rstrip()) + "\n\n")

    def _in_workspace(self, file: str) -> str:
        """GitHub places an annotation by its path from the repository root; a job may run in a subdirectory."""
        workspace = self.context.get("GITHUB_WORKSPACE")
        if not workspace:
            return file
        path = Path(file).absolute()
        try:
            return path.relative_to(Path(workspace).absolute()).as_posix()
        except ValueError:
            return file

    def annotate(self, annotation: Annotation) -> None:
        props = []
        if annotation.file:
            props.append(f"file={_escape_property(self._in_workspace(annotation.file))}")
            if annotation.line:
                props.append(f"line={annotation.line}")
            if annotation.line and annotation.column:
                props.append(f"col={annotation.column}")
        if annotation.title:
            props.append(f"title={_escape_property(annotation.title)}")
        command = annotation.level if annotation.level in ("notice", "warning", "error") else "notice"
        head = f"{command} {','.join(props)}" if props else command
        print(f"::{head}::{_escape_data(annotation.message)}")

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        print(f"::group::{_escape_data(title)}")
        sys.stdout.flush()
        try:
            yield
        finally:
            print("::endgroup::")
