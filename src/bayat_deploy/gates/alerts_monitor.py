"""What a monitoring poll does with its comparisons: alert on warnings and critical metrics, roll back on a
breached rollback trigger when the policy says rollbacks are automatic.

Every poll that finds a metric at warning or critical calls `notify.send(event="alert")`; the aggregation
there turns the repeats of one metric into one message per route (plus a summary), and lets a metric that
worsens from warning to critical break through at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bayat_deploy.errors import BayatError
from bayat_deploy.gates.monitor import LEVEL_ORDER, Comparison, Windows, show


@dataclass
class MonitorAlerts:
    session: object
    environment: str
    version: str
    windows: Windows
    alerts: list = field(default_factory=list)  # one entry per alert raised: metric, level, deliveries
    peak: dict = field(default_factory=dict)  # metric -> worst level seen in any poll
    rollback: dict | None = None
    polls: int = 0

    def __post_init__(self):
        self.env = self.session.policy.environment(self.environment)

    def __call__(self, comparisons: list[Comparison], final: bool) -> bool:
        """Observe one poll; True stops the watch (after a rollback there is nothing left to watch)."""
        self.polls += 1
        watched = min(time.time(), self.windows.end) - self.windows.deployed_at
        print(f"+{watched:.0f}s: " + ", ".join(f"{c.query.name} {show(c.after, c.query.unit)} ({c.level})"
                                               for c in comparisons), flush=True)
        for comparison in comparisons:
            name = comparison.query.name
            self.peak[name] = max(self.peak.get(name, "no-data"), comparison.level, key=LEVEL_ORDER.index)
            if comparison.level in ("warning", "critical"):
                self.alert(comparison)
        breaches = [c for c in comparisons if c.breach]
        if breaches and self.env.rollback.automatic and self.rollback is None:
            self.roll_back(breaches)
            return True
        return False

    def alert(self, comparison: Comparison) -> None:
        from bayat_deploy.gates.notify import send

        query = comparison.query
        title = f"{query.label} {show(comparison.after, query.unit)} after {self.version or 'the deploy'}"
        details = {"metric": query.name, "before": show(comparison.before, query.unit),
                   "after": show(comparison.after, query.unit),
                   "change": None if comparison.change is None else f"{comparison.change * 100:+.0f}%",
                   "threshold": show(query.threshold, query.unit) if query.threshold is not None else None,
                   "query": query.expr}
        deliveries = send(self.session, event="alert", level=comparison.level, environment=self.environment,
                          title=title, text=f"{query.label} in {self.environment}: {comparison.reason}",
                          details={k: v for k, v in details.items() if v is not None}, version=self.version)
        self.alerts.append({"metric": query.name, "level": comparison.level, "reason": comparison.reason,
                            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                            "deliveries": [d.to_dict() for d in deliveries]})

    def roll_back(self, breaches: list[Comparison]) -> None:
        from bayat_deploy.deploy.engine import Deployment
        from bayat_deploy.deploy.rollback import rollback
        from bayat_deploy.gates.notify import send

        reason = "monitor: " + "; ".join(f"{c.query.label} {c.reason}" for c in breaches)
        self.rollback = {"status": "failed", "reason": reason}
        try:
            deployment = Deployment(self.session, self.environment)
            serving = deployment.record.last_successful()
            if serving is not None and self.version and serving.version != self.version:
                self.rollback = {"status": "skipped", "reason": reason,
                                 "detail": f"{serving.version} has replaced {self.version} since; not rolled back"}
                print(f"rollback skipped: {self.rollback['detail']}", flush=True)
                return
            print(f"rolling back automatically: {reason}", flush=True)
            result = rollback(deployment, reason=reason, automatic=True)
            self.rollback = {"status": "rolled-back", "reason": reason, "to": result.entry.version,
                             "seconds_to_traffic": round(result.seconds_to_traffic, 3),
                             "incident": str(result.incident) if result.incident else None}
        except BayatError as exc:
            self.rollback["error"] = str(exc)
            print(f"automatic rollback failed: {exc}", flush=True)
        done = self.rollback["status"] == "rolled-back"
        title = (f"{self.environment} rolled back from {self.version or 'the new release'} to {self.rollback['to']}"
                 if done else f"automatic rollback of {self.environment} FAILED")
        deliveries = send(self.session, event="rollback", level="critical", environment=self.environment,
                          title=title, text=reason + ("" if done else f"\n{self.rollback.get('error', '')}"),
                          details={"automatic": True, **{k: v for k, v in self.rollback.items()
                                                         if k in ("to", "seconds_to_traffic", "error")}},
                          version=self.version)
        self.rollback["deliveries"] = [d.to_dict() for d in deliveries]
