"""Masking credentials in everything bayat-deploy writes: URLs with passwords, secret query parameters,
and the values of secrets resolved at run time (announced to GitHub with ::add-mask::)."""

from __future__ import annotations

import io

import pytest

from bayat_deploy import redact


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.setattr(redact, "_known", set())
    monkeypatch.setattr(redact, "_announce", [])


@pytest.mark.parametrize("text, shown", [
    ("postgres://user:PASSWORD@host/db", "postgres://user:***@host/db"),
    ("see https://bot:tok3n@git.example.com/x.git for it", "see https://bot:***@git.example.com/x.git for it"),
    ("redis://:onlypass@cache:6379/0", "redis://:***@cache:6379/0"),
    ("https://api.example.com/v1?token=abc123&page=2", "https://api.example.com/v1?token=***&page=2"),
    ("https://h.example/hook?X-Amz-Signature=deadbeef", "https://h.example/hook?X-Amz-Signature=***"),
    ("ssh://git@github.com/org/repo", "ssh://git@github.com/org/repo"),  # a user name, not a secret
    ("https://example.com/path?page=2", "https://example.com/path?page=2"),
    ("no url here: user:pass@host", "no url here: user:pass@host"),
])
def test_credentials_inside_urls_are_masked(text, shown):
    assert redact.redact(text) == shown


def test_resolved_secret_values_are_masked_everywhere_and_announced():
    announced = []
    redact.announce_to(announced.append)
    redact.remember("s3cr3t-value")
    redact.remember("abc")  # too short to mask without hiding ordinary words
    assert announced == ["s3cr3t-value"]
    assert redact.redact("token s3cr3t-value in a log, abc stays") == "token *** in a log, abc stays"
    assert redact.redact_data({"s3cr3t-value": ["x s3cr3t-value", 3]}) == {"***": ["x ***", 3]}


def test_a_platform_that_attaches_later_hears_of_secrets_already_known():
    redact.remember("resolved-before-the-platform")
    announced = []
    redact.announce_to(announced.append)
    assert announced == ["resolved-before-the-platform"]


def test_the_stream_masks_a_secret_split_over_two_writes():
    redact.remember("split-secret")
    out = io.StringIO()
    stream = redact.RedactingStream(out)
    stream.write("value: split-")
    stream.write("secret\nnext line")
    assert out.getvalue() == "value: ***\n"
    stream.flush()
    assert out.getvalue() == "value: ***\nnext line"
