"""The required-checks gate (standard: Required Checks, Approval Gates, Maintenance Windows).

For each check in `environments.ENV.checks` the gate reads the evidence that proves it and says pass or
fail, why, and which file (and which commit and version) the answer came from. It fails closed: evidence
that is missing, unreadable, failed, or written for another commit or version is a failure that names the
check and the file. Where the environment enforces maintenance windows, being inside one (or holding an
emergency override for this commit) is one more check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bayat_deploy.gates import approvals as approval_rules
from bayat_deploy.gates.sources import Source, load, staleness

WINDOW_CHECK = "maintenance-window"
# checks about the running environment a deployment changes: a library's release (its publish job) has none
DEPLOYMENT_ONLY = ("performance", "change-ticket", "config")
RUN_HINTS = {
    "test": "bayat-deploy test", "scan": "bayat-deploy scan", "infrastructure": "bayat-deploy scan",
    "release-notes": "bayat-deploy release-notes", "approvals": "bayat-deploy approvals record",
    "config": "bayat-deploy config", "window": "bayat-deploy window check",
}


@dataclass
class CheckResult:
    check: str
    passed: bool
    reason: str
    evidence: list[Source] = field(default_factory=list)
    facts: dict = field(default_factory=dict)  # what the check found, for the bundle and the evidence

    @property
    def evidence_label(self) -> str:
        return ", ".join(source.label() for source in self.evidence) or "-"

    def to_dict(self) -> dict:
        return {"check": self.check, "passed": self.passed, "reason": self.reason,
                "evidence": [source.where() for source in self.evidence], "facts": self.facts}


class Gate:
    def __init__(self, session, environment: str, *, version: str | None = None, change_ticket: str | None = None,
                 now: datetime):
        self.session, self.environment, self.version, self.now = session, environment, version, now
        self.policy = session.policy
        self.env = self.policy.environment(environment)
        self.commit = session.context.sha
        self.change_ticket = change_ticket
        self.ticket_source = "--change-ticket" if change_ticket else ""
        if not change_ticket and session.context.get("CHANGE_TICKET"):
            self.change_ticket, self.ticket_source = session.context.get("CHANGE_TICKET").strip(), "CHANGE_TICKET"

    def checks(self) -> list[str]:
        names = list(self.env.checks)
        if self.policy.kind == "library":  # releasing a package changes no running environment
            return [name for name in names if name not in DEPLOYMENT_ONLY]
        if self.env.maintenance.enforce:
            names.append(WINDOW_CHECK)
        return names

    def run(self) -> list[CheckResult]:
        return [getattr(self, "check_" + name.replace("-", "_"))() for name in self.checks()]

    # ------------------------------------------------------------------------------------------ helpers
    def _stage(self, check: str, stage: str, environment: str | None = None,
               judge_status: bool = True) -> tuple[Source, CheckResult | None]:
        """Load evidence; a CheckResult when it already decides the check (missing/unreadable/stale/failed)."""
        source = load(self.session, stage, environment)
        hint = RUN_HINTS.get(stage, f"bayat-deploy {stage}")
        if not source.usable:
            return source, CheckResult(check, False, f"{source.problem} (run `{hint}`)", [source])
        stale = staleness(source, self.commit, self.version)
        if stale:
            return source, CheckResult(check, False, stale, [source])
        if judge_status and not source.envelope.passed:
            return source, CheckResult(check, False, f"{source.name} says fail: {_failure(source)}", [source])
        return source, None

    # ------------------------------------------------------------------------------------------ checks
    def check_tests(self) -> CheckResult:
        source, verdict = self._stage("tests", "test")
        if verdict:
            return verdict
        summary = source.envelope.summary
        counted = f"{summary.get('passed', 0)} of {summary['tests']} tests passed" if summary.get("tests") else \
            "the test stage passed"
        return CheckResult("tests", True, counted, [source], _pick(summary, "tests", "passed", "failed", "errors",
                                                                    "skipped"))

    def check_security_scan(self) -> CheckResult:
        source, verdict = self._stage("security-scan", "scan")
        if verdict:
            return verdict
        summary = source.envelope.summary
        return CheckResult("security-scan", True, f"{summary.get('blocking', 0)} blocking finding(s) at the "
                                                  f"{summary.get('gate', 'policy')} gate", [source],
                           _pick(summary, "gate", "blocking", "ignored", "total"))

    def check_infrastructure(self) -> CheckResult:
        source, verdict = self._stage("infrastructure", "infrastructure")
        if verdict:
            return verdict
        summary = source.envelope.summary
        return CheckResult("infrastructure", True, f"{summary.get('checks', 0)} validation(s) passed", [source],
                           _pick(summary, "checks", "failed"))

    def check_release_notes(self) -> CheckResult:
        source, verdict = self._stage("release-notes", "release-notes")
        if verdict:
            return verdict
        details = source.envelope.details
        required = self.environment in self.policy.release_notes.required_for
        facts = {"required_for_environment": required, "complete": details.get("complete"),
                 "missing": details.get("missing", []), "markdown": details.get("markdown")}
        if required and details.get("complete") is not True:
            missing = ", ".join(details.get("missing") or []) or "completeness not recorded"
            reason = (f"{source.name}: release notes are incomplete and {self.environment} requires them "
                      f"complete (missing: {missing})")
            return CheckResult("release-notes", False, reason, [source], facts)
        state = "complete" if details.get("complete") else \
            f"present (complete notes are required only for {', '.join(self.policy.release_notes.required_for)})"
        return CheckResult("release-notes", True, f"release notes {source.envelope.version or ''} {state}".replace(
            "  ", " "), [source], facts)

    def _approvals(self, check: str, rules) -> CheckResult:
        if not rules:
            return CheckResult(check, True, f"no approval rules for {self.environment} (automated checks only)")
        # The rules are evaluated here again, against this policy and this run: the recording's own verdict
        # is not what decides.
        source, verdict = self._stage(check, "approvals", self.environment, judge_status=False)
        if verdict:
            return verdict
        recorded = approval_rules.load_recorded(source.envelope)
        # The actor is the one who started the deploy being gated, not whoever recorded the evidence.
        actor = self.session.context.actor or source.envelope.triggered_by
        results = approval_rules.evaluate(self.env, recorded, self.environment, actor, rules)
        facts = {"rules": [r.to_dict() for r in results],
                 "approvals": [a.to_dict() for a in recorded if a.state in ("approved", "rejected")]}
        unmet = [r for r in results if not r.passed]
        if unmet:
            return CheckResult(check, False, f"{source.name}: " + "; ".join(f"{r.rule}: {r.reason}" for r in unmet),
                               [source], facts)
        text = "; ".join(f"{r.rule}: {r.reason}" + (f" ({r.enforced_by})" if r.enforced_by else "") for r in results)
        return CheckResult(check, True, text, [source], facts)

    def check_approvals(self) -> CheckResult:
        return self._approvals("approvals", self.env.approvals.rules)

    def check_security_signoff(self) -> CheckResult:
        return self._approvals("security-signoff", (approval_rules.signoff_rule(self.policy, self.env),))

    def check_change_ticket(self) -> CheckResult:
        ticket = self.env.change_ticket
        facts = {"reference": self.change_ticket, "system": ticket.system, "pattern": str(ticket.pattern),
                 "source": self.ticket_source}
        if not self.change_ticket:
            return CheckResult("change-ticket", False, f"no change ticket: pass --change-ticket REF or set "
                                                       f"CHANGE_TICKET ({ticket.system} reference matching "
                                                       f"{ticket.pattern})", facts=facts)
        if not ticket.pattern.search(self.change_ticket):
            return CheckResult("change-ticket", False, f"{self.change_ticket!r} (from {self.ticket_source}) does "
                                                       f"not match environments.{self.environment}.change_ticket."
                                                       f"pattern {ticket.pattern}", facts=facts)
        return CheckResult("change-ticket", True, f"{ticket.system} {self.change_ticket} (from {self.ticket_source})",
                           facts=facts)

    def performance_chain(self) -> list[str]:
        """ENV, then the environments it promotes from, that run performance tests — nearest first."""
        chain, current, seen = [], self.environment, set()
        while current and current not in seen and current in self.policy.environments:
            seen.add(current)
            if current in self.policy.tests.performance.environments:
                chain.append(current)
            current = self.policy.environments[current].promote_from
        return chain

    def check_performance(self) -> CheckResult:
        chain = self.performance_chain()
        if not chain:
            return CheckResult("performance", False, f"no environment from {self.environment} back along "
                                                     "promote_from runs performance tests "
                                                     "(tests.performance.environments)")
        # The nearest environment with performance evidence for this commit decides: production's own
        # test runs only after production is deployed, so before that staging's post-deploy test counts.
        looked: list[Source] = []
        problems: list[str] = []
        for name in chain:
            source = load(self.session, "test", name)
            looked.append(source)
            if not source.usable:
                problems.append(source.problem)
                continue
            stale = staleness(source, self.commit, self.version)
            performance = source.envelope.details.get("performance")
            if stale:
                problems.append(stale)
                continue
            if not performance:
                problems.append(f"{source.name} has no performance result (run `bayat-deploy test --env {name}` "
                                "after deploying there)")
                continue
            passed = source.envelope.summary.get("performance") == "pass" if "performance" in \
                source.envelope.summary else not performance.get("breaches") and performance.get("exit_code", 0) == 0
            facts = {"environment": name, **_pick(performance, "method", "latency_ms", "error_rate", "thresholds",
                                                 "exit_code", "breaches")}
            if not passed:
                breaches = "; ".join(performance.get("breaches") or []) or _failure(source)
                return CheckResult("performance", False, f"{source.name}: performance test in {name} failed: "
                                                         f"{breaches}", [source], facts)
            return CheckResult("performance", True, f"performance test in {name} passed", [source], facts)
        return CheckResult("performance", False, "no current performance evidence: " + "; ".join(problems), looked)

    def check_config(self) -> CheckResult:
        source, verdict = self._stage("config", "config", self.environment)
        if verdict:
            return verdict
        summary = source.envelope.summary
        return CheckResult("config", True, f"configuration for {self.environment} is valid "
                                           f"({summary.get('keys', 0)} key(s))", [source], _pick(summary, "keys"))

    def check_maintenance_window(self) -> CheckResult:
        from bayat_deploy.gates.window import decide

        decision = decide(self.env.maintenance, self.now)
        facts = {"decision": decision.as_dict()}
        if decision.inside:
            return CheckResult(WINDOW_CHECK, True, f"inside a maintenance window: {decision.current.describe()}",
                               facts=facts)
        next_text = decision.next.describe() if decision.next else "none"
        source = load(self.session, "window", self.environment)
        override = source.envelope.details.get("override") if source.usable else None
        if override and override.get("granted"):
            stale = staleness(source, self.commit, None)
            if not stale:
                facts["override"] = override
                return CheckResult(WINDOW_CHECK, True, f"EMERGENCY override ({source.name}): {override.get('why')}; "
                                                       f"reason: {override.get('reason')}", [source], facts)
            why = stale
        elif source.usable:
            why = f"{source.name} holds no granted emergency override"
        else:
            why = f"no emergency override ({source.problem})"
        return CheckResult(WINDOW_CHECK, False, f"outside every maintenance window of {self.environment}; next "
                                                f"opening: {next_text}; {why}", [source], facts)


def _pick(data: dict, *keys: str) -> dict:
    return {key: data[key] for key in keys if key in data}


def _failure(source: Source) -> str:
    envelope = source.envelope
    blocking = [f for f in envelope.findings if f.blocking and not f.ignored]
    summary = envelope.summary
    parts = []
    for key in ("failed", "errors", "blocking"):
        if summary.get(key):
            parts.append(f"{summary[key]} {key}")
    parts += [f.title for f in blocking[:3]]
    if len(blocking) > 3:
        parts.append(f"and {len(blocking) - 3} more blocking finding(s)")
    return "; ".join(str(p) for p in parts) or "status fail"
