"""Value types and formats of configuration keys, secret-looking names, key spelling, config file formats."""

from __future__ import annotations

import pytest

from bayat_deploy.configuration.sources import read_file
from bayat_deploy.configuration.values import check, host_and_port, looks_secret, normal_name, secret_ref
from bayat_deploy.policy.model.stages import ConfigKey
from bayat_deploy.policy.types import Pattern

TYPE_CASES = [
    # (type, extra, value, error or None)
    ("string", {}, "anything", None),
    ("string", {}, 12, None),
    ("string", {}, ["a"], "expected a single string value, got a list"),
    ("int", {}, 42, None),
    ("int", {}, "-7", None),
    ("int", {}, "4.2", "is not an integer"),
    ("int", {}, True, "is not an integer"),
    ("float", {}, "0.25", None),
    ("float", {}, 3, None),
    ("float", {}, "fast", "is not a number"),
    ("bool", {}, True, None),
    ("bool", {}, "yes", None),
    ("bool", {}, "0", None),
    ("bool", {}, "maybe", "is not a boolean"),
    ("url", {}, "https://api.example.com/v1", None),
    ("url", {}, "postgres://db.internal:5432/orders", None),
    ("url", {}, "api.example.com", "is not an absolute URL"),
    ("url", {}, "http://host:99999/", "has an invalid port"),
    ("url", {}, "http://bad_host!/", "has no valid host name"),
    ("enum", {"values": ("DEBUG", "INFO")}, "INFO", None),
    ("enum", {"values": ("DEBUG", "INFO")}, "TRACE", "is not one of DEBUG, INFO"),
    ("duration", {}, "1h30m", None),
    ("duration", {}, 30, None),
    ("duration", {}, "soon", "is not a duration"),
    ("email", {}, "ops@example.com", None),
    ("email", {}, "ops@", "is not an e-mail address"),
    ("email", {}, "ops example.com", "is not an e-mail address"),
    ("hostname", {}, "db.internal", None),
    ("hostname", {}, "db.internal:5432", None),
    ("hostname", {}, "10.0.0.7", None),
    ("hostname", {}, "[::1]:8080", None),
    ("hostname", {}, "-bad-.example.com", "is not a host name or host:port"),
    ("hostname", {}, "db:port", "is not a host name or host:port"),
    ("port", {}, 8080, None),
    ("port", {}, "443", None),
    ("port", {}, 0, "is not a port number (1-65535)"),
    ("port", {}, 70000, "is not a port number (1-65535)"),
    ("string", {"pattern": Pattern(r"^[a-z]+-\d+$")}, "orders-7", None),
    ("string", {"pattern": Pattern(r"^[a-z]+-\d+$")}, "Orders", "does not match the pattern"),
    ("int", {"pattern": Pattern(r"^\d{4}$")}, 123, "does not match the pattern"),
]


@pytest.mark.parametrize("kind, extra, value, error", TYPE_CASES,
                         ids=[f"{c[0]}-{c[2]!r}" for c in TYPE_CASES])
def test_types_and_formats(kind, extra, value, error):
    problem = check(ConfigKey(type=kind, **extra), value)
    if error is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(error)


@pytest.mark.parametrize("name, secret", [
    ("DB_PASSWORD", True), ("db.password", True), ("GITHUB_TOKEN", True), ("STRIPE_API_KEY", True),
    ("JWT_SECRET", True), ("SECRET_KEY_BASE", True), ("TLS_PRIVATE_KEY", True), ("AWS_ACCESS_KEY", True),
    ("BASIC_AUTH", True), ("smtp-passphrase", True),
    ("TOKEN_TTL", False), ("PASSWORD_MIN_LENGTH", False), ("PASSWORD_FILE", False), ("TOKEN_URL", False),
    ("OAUTH_CLIENT_ID", False), ("TOKENIZER", False), ("LOG_LEVEL", False), ("SECRETARY_EMAIL", False),
])
def test_names_that_look_secret(name, secret):
    assert looks_secret(name) is secret


@pytest.mark.parametrize("name, normal", [("database.url", "DATABASE_URL"), ("database-url", "DATABASE_URL"),
                                          ("DATABASE_URL", "DATABASE_URL"), ("api.v2.base", "API_V2_BASE")])
def test_one_key_in_every_spelling(name, normal):
    assert normal_name(name) == normal


@pytest.mark.parametrize("value, ref", [
    ("env:DB_PASSWORD", "env:DB_PASSWORD"), ("vault:kv/app#pw", "vault:kv/app#pw"), ("aws-sm:prod/db", "aws-sm:prod/db"),
    ("file:/run/secrets/x", "file:/run/secrets/x"), ("hunter2", None), ("http://x", None), (5, None), ("env:", None),
])
def test_secret_references(value, ref):
    parsed = secret_ref(value)
    assert (parsed.dump() if parsed else None) == ref


@pytest.mark.parametrize("text, expected", [("db", ("db", None)), ("db:5432", ("db", 5432)),
                                            ("[::1]:80", ("::1", 80)), ("db:0", None), ("a b", None)])
def test_host_and_port(text, expected):
    assert host_and_port(text) == expected


@pytest.mark.parametrize("name, text, expected", [
    ("app.yml", "log_level: INFO\ndatabase:\n  url: env:DB\n  pool: 5\n",
     [("log_level", "INFO", 1), ("database.url", "env:DB", 3), ("database.pool", 5, 4)]),
    ("app.json", '{\n  "log_level": "INFO",\n  "database": {\n    "pool": 5,\n    "ratio": 1e3\n  }\n}\n',
     [("log_level", "INFO", 2), ("database.pool", 5, 4), ("database.ratio", 1000.0, 5)]),
    ("staging.env", "# comment\nexport SHOP_LOG_LEVEL=INFO\nGREETING=\"hello\\nworld\"\nNAME='a # b'\n"
                    "PLAIN=value # trailing comment\nEMPTY=\n",
     [("LOG_LEVEL", "INFO", 2), ("GREETING", "hello\nworld", 3), ("NAME", "a # b", 4), ("PLAIN", "value", 5),
      ("EMPTY", "", 6)]),
])
def test_file_formats_keep_lines(tmp_path, name, text, expected):
    path = tmp_path / name
    path.write_text(text)
    settings, errors = read_file(path, name, "SHOP_")
    assert errors == []
    assert [(s.key, s.value, s.location.line) for s in settings] == expected


@pytest.mark.parametrize("name, text, message, line", [
    ("bad.yml", "a: 1\nb: [\n", "YAML syntax error", 3),
    ("bad.json", '{"a": 1,\n "b": }', "invalid JSON: Expecting value", 2),
    ("bad.env", "GOOD=1\nnot a setting\n", "expected KEY=VALUE", 2),
    ("list.yml", "- a\n- b\n", "must be a mapping", 1),
])
def test_broken_files_are_reported_with_positions(tmp_path, name, text, message, line):
    path = tmp_path / name
    path.write_text(text)
    _, errors = read_file(path, name, "")
    assert errors and message in errors[0].message and errors[0].location.line == line
