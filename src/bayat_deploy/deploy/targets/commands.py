"""Running a target's tools (helm, kubectl, aws, terraform...) through one small interface.

Targets that talk to a cluster or a cloud never call subprocess themselves: they hand argv lists to a
`CommandRunner`. The real runner runs them; the `RecordingRunner` records them and answers with
scripted results, which is how the tests (and `--dry-run`) see the exact command lines a target
would run where no cluster or cloud is reachable.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence, Union

from bayat_deploy.errors import BayatError


@dataclass(frozen=True)
class CommandResult:
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def message(self, lines: int = 20) -> str:
        """The tool's own explanation: the last lines of stderr (or stdout when stderr is empty)."""
        text = (self.stderr or self.stdout or "").strip().splitlines()
        return "\n".join(text[-lines:])


def quoted(argv: Sequence[str]) -> str:
    """A command line as one would type it into a shell."""
    return shlex.join(argv)


class CommandRunner:
    """Runs real commands (through `bayat_deploy.tools.run`, which finds the tool or says how to install it).

    `env` is the child processes' environment (`session.context.tool_env()`); `timeout` bounds every command.
    """

    def __init__(self, env: Mapping[str, str] | None = None, timeout: float | None = 900.0):
        self.env = dict(env) if env is not None else None
        self.timeout = timeout

    def run(self, argv: list[str], *, input: str | None = None, cwd: Path | None = None) -> CommandResult:
        from bayat_deploy.tools import run

        proc = run(argv, cwd=cwd, env=self.env, timeout=self.timeout, input=input)
        return CommandResult(proc.returncode, proc.stdout or "", proc.stderr or "")

    def check(self, argv: list[str], *, input: str | None = None, cwd: Path | None = None,
              what: str = "") -> CommandResult:
        """Run and raise a BayatError naming the command and the tool's message when it fails."""
        result = self.run(argv, input=input, cwd=cwd)
        if not result.ok:
            doing = f"{what}: " if what else ""
            raise BayatError(f"{doing}{quoted(argv)} failed (exit {result.returncode}):\n{result.message()}")
        return result


Answer = Union[CommandResult, Sequence[CommandResult], Callable[[list[str], Union[str, None]], CommandResult]]


@dataclass
class Call:
    argv: list[str]
    input: str | None = None
    cwd: Path | None = None


class RecordingRunner(CommandRunner):
    """Records every command and answers from a script instead of running it.

    `answer(prefix, result)`: commands starting with `prefix` get `result` - one CommandResult (every
    time), a list (one per call in order; the last one repeats), or a function of (argv, input). The
    longest matching prefix wins; a later answer for the same prefix replaces the earlier one. Commands
    with no answer succeed with empty output. `real` names prefixes that are run for real (and still
    recorded), e.g. `[["git"]]` when a test uses a real repository.
    """

    def __init__(self, real: Sequence[Sequence[str]] = (), env: Mapping[str, str] | None = None):
        super().__init__(env=env)
        self.calls: list[Call] = []
        self._answers: dict[tuple[str, ...], list] = {}
        self._real = [tuple(prefix) for prefix in real]

    @property
    def commands(self) -> list[list[str]]:
        return [call.argv for call in self.calls]

    def answer(self, prefix: Sequence[str], result: Answer) -> None:
        if isinstance(result, CommandResult) or callable(result):
            self._answers[tuple(prefix)] = [result]
        else:
            self._answers[tuple(prefix)] = list(result)

    def run(self, argv: list[str], *, input: str | None = None, cwd: Path | None = None) -> CommandResult:
        argv = [str(a) for a in argv]
        self.calls.append(Call(argv, input, cwd))
        if any(tuple(argv[: len(p)]) == p for p in self._real):
            return super().run(argv, input=input, cwd=cwd)
        matching = [p for p in self._answers if tuple(argv[: len(p)]) == p]
        if not matching:
            return CommandResult()
        queue = self._answers[max(matching, key=len)]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer(argv, input) if callable(answer) else answer

    def clear(self) -> None:
        """Forget the recorded calls (the scripted answers stay)."""
        self.calls.clear()

    def script(self) -> str:
        """The recorded commands as shell lines (inputs shown as here-documents), e.g. for `--dry-run`."""
        lines = []
        for call in self.calls:
            if call.input is None:
                lines.append(quoted(call.argv))
            else:
                lines.append(f"{quoted(call.argv)} <<'EOF'\n{call.input.rstrip()}\nEOF")
        return "\n".join(lines)

