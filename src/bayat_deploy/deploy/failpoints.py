"""Named points where a test kills the process, to prove a deployment survives a crash at each of them.

`BAYAT_FAILPOINTS=router-reloaded` (comma-separated names) makes the command SIGKILL itself when it
reaches that point: no cleanup, no `finally`, exactly what a runner that loses power or an OOM kill does.
Unset (always, outside the fault-injection tests) a failpoint costs one set lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "attempt-recorded",         # the in-progress entry is written, nothing has changed yet
    "instances-started",        # new containers run, the state does not list them yet
    "router-config-replaced",   # nginx.conf is the new one on disk, nginx has not reloaded
    "router-reloaded",          # nginx serves the new split, the state has not recorded it
    "instances-unrouted",       # traffic left instances being retired, they still run
)


class Failpoints:
    def __init__(self, armed: str = ""):
        self.armed = {name.strip() for name in armed.split(",") if name.strip()}
        unknown = self.armed - set(POINTS)
        if unknown:
            from bayat_deploy.errors import BadInput

            raise BadInput(f"BAYAT_FAILPOINTS: unknown failpoint(s) {', '.join(sorted(unknown))}; known: "
                           f"{', '.join(POINTS)}")

    @classmethod
    def of(cls, context) -> "Failpoints":
        return cls(context.get("BAYAT_FAILPOINTS"))

    def __call__(self, name: str) -> None:
        if name in self.armed:
            print(f"failpoint {name}: killing the process", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
