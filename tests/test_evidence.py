"""The evidence envelope round-trips and rejects what it cannot trust."""

from __future__ import annotations

import pytest

from bayat_deploy import evidence
from bayat_deploy.evidence import Artifact, Envelope, Finding


def test_round_trip(tmp_path):
    envelope = Envelope(stage="scan", status="fail", started="s", finished="f", duration_seconds=1.5,
                        environment="staging", findings=[Finding("CVE-1", "HIGH", "bad", "trivy", blocking=True)],
                        artifacts=[Artifact("sarif", "scan.sarif", path="x.sarif")], summary={"HIGH": 1})
    path = evidence.write(tmp_path, envelope)
    assert path.name == "scan-staging.json"
    assert evidence.read(tmp_path, "scan", "staging") == envelope
    assert evidence.read(tmp_path, "scan") is None


def test_foreign_or_damaged_documents_are_refused(tmp_path):
    (tmp_path / "test.json").write_text('{"stage": "test"}')
    with pytest.raises(ValueError, match="not a bayat-deploy/evidence/v1 document"):
        evidence.read(tmp_path, "test")
    (tmp_path / "build.json").write_text("{broken")
    with pytest.raises(ValueError, match="unreadable evidence"):
        evidence.read(tmp_path, "build")


def test_every_envelope_names_the_bayat_deploy_that_wrote_it(tmp_path):
    import json

    from bayat_deploy import __version__

    path = evidence.write(tmp_path, Envelope(stage="build", status="pass", started="s", finished="f",
                                             duration_seconds=0.1))
    assert json.loads(path.read_text())["tool_version"] == __version__
    older = json.loads(path.read_text())
    del older["tool_version"]  # written before the field existed: still readable
    path.write_text(json.dumps(older))
    assert evidence.read(tmp_path, "build").stage == "build"
