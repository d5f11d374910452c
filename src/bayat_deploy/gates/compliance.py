"""The compliance bundle (standard: Compliance Verification): one file that answers "who shipped what,
checked how" for a deployment, each part traceable to the evidence file it came from (path and sha256).

Parts: the gate's verdict, approvals (who, when), the change ticket, test and performance results, the
security scan (counts and blocking findings), infrastructure validation, SBOMs (from the build), the
signature verification, release notes, the window decision or emergency override, configuration, and the
deployment-record entry. A part that is missing is listed as missing; whether it was required follows
from the policy (a change ticket only where one is required, a window only where windows are enforced).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bayat_deploy import evidence
from bayat_deploy.gates.sources import Source, load, sha256_of, staleness

SCHEMA = "bayat-deploy/compliance-bundle/v1"


@dataclass
class Part:
    name: str
    required: bool
    source: Source | None = None
    summary: dict = field(default_factory=dict)
    problem: str = ""  # why the part is missing or cannot be trusted

    @property
    def present(self) -> bool:
        return self.source is not None and self.source.usable and not self.problem

    def to_dict(self) -> dict:
        return {"name": self.name, "required": self.required, "present": self.present, "problem": self.problem,
                "source": self.source.where() if self.source else None, "summary": self.summary}


class Bundle:
    def __init__(self, session, environment: str, version: str | None = None):
        self.session, self.environment = session, environment
        self.policy = session.policy
        self.env = self.policy.environment(environment)
        self.commit = session.context.sha
        self.version = version
        self.parts: list[Part] = []

    # --------------------------------------------------------------------------------------- assembly
    def _part(self, name: str, stage: str, environment: str | None, required: bool, summarize,
              check_version: bool = True) -> Part:
        source = load(self.session, stage, environment)
        part = Part(name, required, source)
        if not source.usable:
            part.problem = source.problem
        else:
            part.problem = staleness(source, self.commit, self.version if check_version else None)
            part.summary = summarize(source.envelope)
        self.parts.append(part)
        return part

    def build(self) -> dict:
        from bayat_deploy.gates.gate import Gate

        env, name = self.env, self.environment
        deploy = self._part("deployment", "deploy", name, True, _deployment)
        if self.version is None and deploy.present:
            self.version = deploy.source.envelope.version  # the other parts must be for the deployed version
        self._part("gate", "gate", name, True, _gate)
        self._part("approvals", "approvals", name, bool(env.approvals.rules), _approvals, check_version=False)
        self._change_ticket()
        self._part("tests", "test", None, True, _tests, check_version=False)
        if "performance" in env.checks:
            chain = Gate(self.session, name, version=self.version, now=None).performance_chain()
            nearest = next((e for e in chain if load(self.session, "test", e).usable), chain[0] if chain else name)
            self._part("performance", "test", nearest, True, _performance, check_version=False)
        self._part("security-scan", "scan", None, True, _scan, check_version=False)
        self._part("infrastructure", "infrastructure", None, True, _infrastructure, check_version=False)
        self._sbom()
        self._part("signature", "signature", None, True, _signature, check_version=False)
        self._part("release-notes", "release-notes", None, name in self.policy.release_notes.required_for,
                   _release_notes)
        self._part("maintenance-window", "window", name, bool(env.maintenance.windows and env.maintenance.enforce),
                   _window, check_version=False)
        if "config" in env.checks:
            self._part("config", "config", name, True, _config, check_version=False)
        return self.document()

    def _change_ticket(self) -> None:
        required = self.env.change_ticket.required
        gate = next(p for p in self.parts if p.name == "gate")
        part = Part("change-ticket", required, gate.source)
        ticket = gate.source.envelope.details.get("change_ticket") if gate.source and gate.source.usable else None
        if ticket and ticket.get("reference"):
            part.summary = {"headline": f"{ticket.get('system', '')} {ticket['reference']}".strip(), **ticket}
            part.problem = gate.problem
        else:
            part.problem = f"no change ticket recorded in {gate.source.shown if gate.source else 'gate evidence'} " \
                           "(bayat-deploy gate --change-ticket REF)"
        self.parts.append(part)

    def _sbom(self) -> None:
        def summarize(envelope) -> dict:
            sboms = []
            for artifact in envelope.artifacts:
                if artifact.type != "sbom":
                    continue
                path = self.session.root / artifact.path if artifact.path else None
                actual = sha256_of(path) if path else None
                sboms.append({"name": artifact.name, "image": artifact.reference, "file": artifact.path,
                              "sha256_recorded": artifact.digest, "sha256_now": actual,
                              "intact": actual is not None and actual == artifact.digest})
            images = [a.reference for a in envelope.artifacts if a.type == "docker-image"]
            intact = sum(s["intact"] for s in sboms)
            return {"headline": f"{intact} of {len(sboms)} SBOM(s) intact for {len(images)} image(s)",
                    "sboms": sboms, "images": images}

        part = self._part("sbom", "build", None, True, summarize, check_version=True)
        if part.present:
            summary = part.summary
            if summary["images"] and not summary["sboms"]:
                part.problem = "the build produced images but recorded no SBOM (built with --no-sbom?)"
            elif any(not s["intact"] for s in summary["sboms"]):
                part.problem = "an SBOM file is missing or changed since the build: " + ", ".join(
                    s["file"] or s["name"] for s in summary["sboms"] if not s["intact"])
            elif not summary["images"] and not summary["sboms"]:
                part.required = False  # nothing was built that carries an SBOM

    # --------------------------------------------------------------------------------------- output
    @property
    def missing(self) -> list[Part]:
        return [p for p in self.parts if p.required and not p.present]

    def document(self) -> dict:
        parts = {p.name: p for p in self.parts}
        deploy = parts["deployment"].summary
        approvals = parts["approvals"].summary.get("approvals", [])
        window = parts["maintenance-window"].summary
        checked = []
        for name in ("gate", "tests", "performance", "security-scan", "infrastructure", "signature", "release-notes"):
            part = parts.get(name)
            if part is not None:
                checked.append(f"{name}: {part.summary.get('headline') or part.problem or 'present'}")
        context = self.session.context
        return {
            "schema": SCHEMA, "project": self.policy.project, "environment": self.environment,
            "version": self.version, "commit": self.commit, "generated": evidence.now(),
            "generated_by": context.actor, "pipeline_url": context.pipeline_url,
            "policy_fingerprint": self.session.policy_fingerprint, "regulated": self.policy.compliance.regulated,
            "complete": not self.missing, "missing": [p.name for p in self.missing],
            "answer": {
                "who_deployed": deploy.get("triggered_by"),
                "who_approved": [f"{a['user']} ({a['state']}, "
                                 f"{'manual attestation' if a['source'] == 'manual' else a['source']}"
                                 f"{', ' + a['at'] if a.get('at') else ''})" for a in approvals],
                "what": {"version": self.version, "commit": self.commit, "image": deploy.get("image"),
                         "digest": deploy.get("digest")},
                "when": deploy.get("finished"), "outcome": deploy.get("outcome"),
                "change_ticket": parts["change-ticket"].summary.get("reference"),
                "window": window.get("decision"),
                "emergency": window.get("override") if (window.get("override") or {}).get("granted") else None,
                "checked_how": checked,
            },
            "parts": [p.to_dict() for p in self.parts],
        }


# ------------------------------------------------------------------------------------------- summaries
def _deployment(envelope) -> dict:
    record = envelope.details.get("record") or {}
    return {"headline": f"{record.get('version', envelope.version)} {record.get('outcome', envelope.status)}",
            "record_entry": record, "triggered_by": record.get("triggered_by") or envelope.triggered_by,
            "image": record.get("image"), "digest": record.get("digest"), "outcome": record.get("outcome"),
            "finished": record.get("finished") or envelope.finished, "strategy": record.get("strategy"),
            "previous_version": record.get("previous_version")}


def _gate(envelope) -> dict:
    checks = envelope.details.get("checks", [])
    failed = [c["check"] for c in checks if not c.get("passed")]
    return {"headline": f"{len(checks) - len(failed)} of {len(checks)} checks passed"
                        + (f"; failed: {', '.join(failed)}" if failed else ""),
            "checks": [{k: c.get(k) for k in ("check", "passed", "reason")} for c in checks],
            "status": envelope.status}


def _approvals(envelope) -> dict:
    approvals = envelope.details.get("approvals", [])
    return {"headline": f"{len(approvals)} approval record(s) from {envelope.details.get('source')}",
            "approvals": [{k: a.get(k) for k in ("user", "state", "source", "at", "comment", "group", "rule")}
                          for a in approvals],
            "rules": envelope.details.get("rules", []), "recorded": envelope.finished}


def _tests(envelope) -> dict:
    summary = envelope.summary
    counts = {k: summary.get(k) for k in ("tests", "passed", "failed", "errors", "skipped")}
    return {"headline": f"{envelope.status}: {counts['passed']} of {counts['tests']} passed", **counts,
            "junit_reports": envelope.details.get("junit_reports")}


def _performance(envelope) -> dict:
    performance = envelope.details.get("performance") or {}
    return {"headline": f"{envelope.environment}: {envelope.summary.get('performance', 'not run')}",
            "environment": envelope.environment, "result": performance}


def _scan(envelope) -> dict:
    summary = envelope.summary
    blocking = [{"id": f.id, "severity": f.severity, "title": f.title, "tool": f.tool}
                for f in envelope.findings if f.blocking and not f.ignored]
    return {"headline": f"{envelope.status}: {summary.get('blocking', len(blocking))} blocking at "
                        f"{summary.get('gate', '?')}", "counts": summary.get("counts"), "gate": summary.get("gate"),
            "blocking_findings": blocking, "ignored": summary.get("ignored"),
            "reports": envelope.details.get("reports")}


def _infrastructure(envelope) -> dict:
    return {"headline": f"{envelope.status}: {envelope.summary.get('checks', 0)} validation(s)",
            **{k: envelope.summary.get(k) for k in ("checks", "failed")}}


def _signature(envelope) -> dict:
    details = envelope.details
    return {"headline": f"{'verified' if details.get('verified') else 'NOT verified'}: {details.get('image')}",
            **{k: details.get(k) for k in ("image", "digest", "verified", "reason", "method", "key", "identity")}}


def _release_notes(envelope) -> dict:
    details = envelope.details
    markdown = details.get("markdown")
    return {"headline": f"{envelope.version}: {'complete' if details.get('complete') else 'incomplete'}",
            "complete": details.get("complete"), "missing": details.get("missing"), "markdown": markdown,
            "markdown_sha256": sha256_of(Path(markdown)) if markdown else None}


def _window(envelope) -> dict:
    details = envelope.details
    return {"headline": details.get("decision"), "decision": details.get("decision"), "at": details.get("at"),
            "window": details.get("window"), "override": details.get("override")}


def _config(envelope) -> dict:
    return {"headline": f"{envelope.status}: {envelope.summary.get('keys', 0)} key(s)",
            "keys": envelope.summary.get("keys")}
