"""Scalar value types: each parses what people write and rejects the rest with a useful message."""

from __future__ import annotations

import pytest

from bayat_deploy.policy.types import (CronSchedule, Duration, IsoDate, Pattern, Percent, Quantity, SecretRef,
                                       SemVer, Severity, TimeZone, Url)


@pytest.mark.parametrize("text, seconds, shown", [
    ("90s", 90, "1m30s"), ("5m", 300, "5m"), ("1h30m", 5400, "1h30m"), ("2d", 172800, "2d"),
    ("500ms", 0.5, "500ms"), (45, 45, "45s"), ("1.5h", 5400, "1h30m"), ("1w", 604800, "7d"), ("0s", 0, "0s"),
])
def test_durations(text, seconds, shown):
    duration = Duration.parse(text)
    assert duration.seconds == seconds and str(duration) == shown
    assert Duration.parse(str(duration)) == duration


@pytest.mark.parametrize("text", ["", "5 minutes", "m5", "-3s", "3x", True, -1])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        Duration.parse(text)


@pytest.mark.parametrize("text, value", [("5%", 5), ("0.5%", 0.5), (5, 5), ("100 %", 100), (0, 0)])
def test_percentages(text, value):
    assert Percent.parse(text).value == value
    assert Percent.parse(text).fraction == value / 100


@pytest.mark.parametrize("text", ["lots", "101%", "-1%", True])
def test_bad_percentages(text):
    with pytest.raises(ValueError):
        Percent.parse(text)


def test_severity_order_and_gate():
    assert Severity.parse("high").at_or_above() == ("HIGH", "CRITICAL")
    assert Severity("LOW") < Severity("MEDIUM") < Severity("HIGH") < Severity("CRITICAL")
    with pytest.raises(ValueError, match="not a severity"):
        Severity.parse("severe")


# From semver.org's regular-expression examples and the SemVer 2.0.0 text.
@pytest.mark.parametrize("text", ["0.0.4", "1.2.3", "10.20.30", "1.1.2-prerelease+meta", "1.1.2+meta",
                                  "1.0.0-alpha", "1.0.0-alpha.beta.1", "1.0.0-rc.1+build.1", "2.0.0-rc.1+build.123",
                                  "1.0.0-0A.is.legal", "1.2.3----RC-SNAPSHOT.12.9.1--.12+788"])
def test_valid_semver(text):
    assert SemVer.parse(text).text == text


@pytest.mark.parametrize("text", ["1", "1.2", "1.2.3-0123", "1.2.3-0123.0123", "1.1.2+.123", "+invalid",
                                  "-invalid", "01.1.1", "1.01.1", "1.1.01", "1.2.3.DEV", "1.2-SNAPSHOT",
                                  "1.0.0-alpha_beta", "v1.2.3", 1.0])
def test_invalid_semver(text):
    with pytest.raises(ValueError, match="SemVer"):
        SemVer.parse(text)


@pytest.mark.parametrize("text, scheme, target", [
    ("env:REGISTRY_PASSWORD", "env", "REGISTRY_PASSWORD"), ("vault:secret/app#token", "vault", "secret/app#token"),
    ("aws-sm:prod/db", "aws-sm", "prod/db"), ("file:/run/secrets/x", "file", "/run/secrets/x")])
def test_secret_references(text, scheme, target):
    ref = SecretRef.parse(text)
    assert (ref.scheme, ref.target, ref.dump()) == (scheme, target, text)


@pytest.mark.parametrize("text", ["hunter2", "env:", "https://user:pw@host", "ENV:X"])
def test_plaintext_secrets_are_refused(text):
    with pytest.raises(ValueError, match="references"):
        SecretRef.parse(text)


def test_other_scalars():
    assert TimeZone.parse("Europe/Berlin").zoneinfo is not None
    with pytest.raises(ValueError):
        TimeZone.parse("Mars/Olympus")
    assert Url.parse("https://x.example.com/a").text == "https://x.example.com/a"
    for bad in ("x.example.com", "ftp://x", "http://"):
        with pytest.raises(ValueError):
            Url.parse(bad)
    assert Quantity.parse("500m").text == "500m" and Quantity.parse(2).text == "2"
    with pytest.raises(ValueError):
        Quantity.parse("lots")
    assert str(IsoDate.parse("2026-01-06")) == "2026-01-06"
    with pytest.raises(ValueError):
        IsoDate.parse("06/01/2026")
    assert Pattern.parse(r"^CHG-\d+$").search("CHG-42")
    with pytest.raises(ValueError, match="regular expression"):
        Pattern.parse("(unclosed")
    assert str(CronSchedule.parse("0 2 * * SUN")) == "0 2 * * SUN"
    with pytest.raises(ValueError, match="quotes"):
        CronSchedule.parse(5)
