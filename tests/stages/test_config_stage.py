"""`bayat-deploy config validate` as a user runs it: the hierarchy with a real configuration service over
HTTP, type failures, plaintext secrets, environment isolation and connectivity against real ports."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import run_command
from tests.stages.test_loadprobe import closed_port

TOKEN = "service-token-123"


class ConfigService(BaseHTTPRequestHandler):
    """GET /config/<environment> -> the JSON object for that environment; a bearer token is required."""

    documents: dict = {}

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        elif not self.path.startswith("/config/"):
            self._send(404, {"error": "not found"})
        elif self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, {"error": "unauthorized"})
        elif self.path[8:] in self.documents:
            self._send(200, self.documents[self.path[8:]])
        else:
            self._send(404, {"error": "no such environment"})

    def _send(self, status, payload):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def service():
    handler = type("Service", (ConfigService,), {"documents": {
        "staging": {"D_SERVICE": "from-service", "limits": {"burst": 50}},
        "testing": {},
        "production": {"API_KEY": "literal-in-service"},
    }})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def make_repo(root: Path, policy: str, files: dict[str, str]) -> Path:
    (root / ".bayat").mkdir(parents=True, exist_ok=True)
    (root / ".bayat" / "deploy.yml").write_text(policy)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def evidence(repo: Path, environment: str) -> dict:
    return json.loads((repo / ".bayat" / "evidence" / f"config-{environment}.json").read_text())


HIERARCHY_POLICY = """project: shop
config:
  files: [config/default.yml, "config/{{environment}}.json", "config/{{environment}}.env"]
  env_prefix: SHOP_
  service:
    url: {service}/config
    token: env:CONFIG_SERVICE_TOKEN
  keys:
    A_DEFAULT: {{ type: string, default: from-default }}
    B_FILE: {{ type: string, default: from-default }}
    C_ENV: {{ type: string, default: from-default }}
    D_SERVICE: {{ type: string, default: from-default }}
    E_LATER_FILE: {{ type: int, default: 1 }}
    F_DOTENV: {{ type: bool }}
    limits.burst: {{ type: int, default: 10 }}
"""
HIERARCHY_FILES = {
    "config/default.yml": "b_file: from-file\nc_env: from-file\nd_service: from-file\ne_later_file: 2\n",
    "config/staging.json": '{\n  "E_LATER_FILE": 3\n}\n',
    "config/staging.env": "# the last file\nSHOP_F_DOTENV=yes\n",
}


@pytest.fixture(scope="module")
def hierarchy(tmp_path_factory, service):
    repo = make_repo(tmp_path_factory.mktemp("hierarchy"), HIERARCHY_POLICY.format(service=service), HIERARCHY_FILES)
    env = {"SHOP_C_ENV": "from-env", "SHOP_D_SERVICE": "from-env", "CONFIG_SERVICE_TOKEN": TOKEN}
    result = run_command("bayat-deploy", "config", "validate", "--env", "staging", "--show", cwd=repo, env=env)
    return repo, result


@pytest.mark.parametrize("key, value, layer, source", [
    ("A_DEFAULT", "from-default", "default", "config.keys.A_DEFAULT.default"),
    ("B_FILE", "from-file", "file", "config/default.yml"),
    ("C_ENV", "from-env", "env", "SHOP_C_ENV"),
    ("D_SERVICE", "from-service", "service", "/config/staging"),
    ("E_LATER_FILE", "3", "file", "config/staging.json"),
    ("F_DOTENV", "yes", "file", "config/staging.env"),
    ("limits.burst", "50", "service", "/config/staging"),
])
def test_each_layer_overrides_the_one_below(hierarchy, key, value, layer, source):
    repo, result = hierarchy
    assert result.code == 0, result.stdout + result.stderr
    entry = evidence(repo, "staging")["details"]["effective"][key]
    assert (entry["value"], entry["layer"]) == (value, layer)
    assert entry["source"].endswith(source)
    row = next(line for line in result.stdout.splitlines() if line.startswith(key + " "))
    assert row.split()[1:3] == [value, f"{layer}:"]


def test_overridden_layers_are_recorded(hierarchy):
    repo, _ = hierarchy
    effective = evidence(repo, "staging")["details"]["effective"]
    assert effective["D_SERVICE"]["overrides"] == ["default: config.keys.D_SERVICE.default",
                                                   "file: config/default.yml:3", "env: SHOP_D_SERVICE"]
    assert evidence(repo, "staging")["summary"]["files_read"] == list(HIERARCHY_FILES)


def test_the_service_needs_its_token(hierarchy, service):
    repo, _ = hierarchy
    result = run_command("bayat-deploy", "config", "validate", "--env", "staging", cwd=repo)
    assert result.code == 1
    assert f"{service}/config/staging: error: config.service.token: env:CONFIG_SERVICE_TOKEN is not set" \
        in result.stdout
    result = run_command("bayat-deploy", "config", "validate", "--env", "staging", cwd=repo,
                         env={"CONFIG_SERVICE_TOKEN": "wrong"})
    assert result.code == 1
    assert "the configuration service answered HTTP 401 Unauthorized" in result.stdout


def test_an_unreachable_service_fails_with_the_reason(bayat, tmp_path):
    port = closed_port()
    repo = make_repo(tmp_path / "repo", f"project: shop\nconfig:\n  service:\n    url: http://127.0.0.1:{port}/cfg\n"
                                        f"    timeout: 2s\n", {})
    result = bayat("config", "validate", "--env", "development", cwd=repo)
    assert result.code == 1
    assert f"http://127.0.0.1:{port}/cfg/development: error: the configuration service is unreachable: " \
           f"[Errno 111] Connection refused" in result.stdout


TYPED_POLICY = """project: shop
config:
  files: [config/app.yml]
  env_prefix: SHOP_
  keys:
    PORT: { type: port }
    WORKERS: { type: int }
    LOG_LEVEL: { type: enum, values: [DEBUG, INFO] }
    TIMEOUT: { type: duration }
    HOMEPAGE: { type: url }
    OWNER: { type: email, required: true }
    DB_HOST: { type: hostname, required: true }
    REGION: { type: string, pattern: '^[a-z]{2}-[a-z]+-\\d$' }
"""


def test_types_and_formats_are_checked_with_positions(bayat, tmp_path):
    repo = make_repo(tmp_path / "repo", TYPED_POLICY, {"config/app.yml": (
        "port: 80800\nworkers: two\nlog_level: TRACE\ntimeout: soon\nhomepage: www.example.com\n"
        "owner: ops\nregion: EU-West-1\nlog_levl: INFO\n")})
    result = bayat("config", "validate", "--env", "staging", cwd=repo, env={"SHOP_WORKERS": "4"})
    assert result.code == 1
    lines = [line for line in result.stdout.splitlines() if ": error: " in line or ": warning: " in line]
    assert lines == [
        "config/app.yml:1:7: error: PORT: 80800 is not a port number (1-65535)",
        "config/app.yml:3:12: error: LOG_LEVEL: 'TRACE' is not one of DEBUG, INFO",
        "config/app.yml:4:10: error: TIMEOUT: 'soon' is not a duration (e.g. 30s, 5m, 1h30m)",
        "config/app.yml:5:11: error: HOMEPAGE: 'www.example.com' is not an absolute URL (scheme://host[:port][/path])",
        "config/app.yml:6:8: error: OWNER: 'ops' is not an e-mail address",
        "config/app.yml:7:9: error: REGION: 'EU-West-1' does not match the pattern '^[a-z]{2}-[a-z]+-\\\\d$'",
        "config/app.yml:8:11: warning: log_levl: not declared in config.keys (did you mean 'LOG_LEVEL'?)",
        "config.keys.DB_HOST: error: DB_HOST: required, but no layer sets it: give it a value in config/app.yml, "
        "as SHOP_DB_HOST",
    ]  # WORKERS: 'two' in the file is overridden by SHOP_WORKERS=4, so it is not an error
    report = evidence(repo, "staging")
    assert (report["summary"]["errors"], report["summary"]["warnings"]) == (7, 1)
    assert {f["id"] for f in report["findings"]} >= {"config.type:PORT", "config.required:DB_HOST",
                                                     "config.unknown-key:log_levl"}
    assert result.stdout.count("config: FAILED") == 1


SECRETS_POLICY = """project: shop
config:
  files: [config/default.yml, "config/{environment}.yml", config/local.env, config/extra.json]
  env_prefix: SHOP_
  keys:
    DATABASE_URL: { type: url, secret: true }
    PASSWORD_MIN_LENGTH: { type: int }
"""


def test_plaintext_secrets_are_refused_with_file_and_line(bayat, tmp_path):
    repo = make_repo(tmp_path / "repo", SECRETS_POLICY, {
        "config/default.yml": "password_min_length: 12\ntoken_ttl: 300\n",
        "config/staging.yml": "log_level: INFO\ndatabase_url: postgres://app:hunter2@db:5432/app\n"
                              "smtp:\n  password: hunter2\n",
        "config/local.env": "SHOP_STRIPE_API_KEY=sk_live_hunter2\nSHOP_SESSION_SECRET=env:SESSION_SECRET\n",
        "config/extra.json": '{\n  "github_token": "ghp_hunter2"\n}\n',
    })
    result = bayat("config", "validate", "--env", "staging", "--show", cwd=repo)
    assert result.code == 1
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert [line.split(" (")[0].split("; ")[0] for line in errors] == [
        "config/extra.json:2:19: error: github_token: named like a secret but holds a plaintext value in a "
        "configuration file",
        "config/local.env:1:21: error: STRIPE_API_KEY: named like a secret but holds a plaintext value in a "
        "configuration file",
        "config/staging.yml:2:15: error: database_url: a secret",
        "config/staging.yml:4:13: error: smtp.password: named like a secret but holds a plaintext value in a "
        "configuration file",
    ]
    assert "write e.g. env:SHOP_DATABASE_URL" in errors[2]
    assert "hunter2" not in result.stdout + result.stderr, "a secret value was printed"
    assert "hunter2" not in (repo / ".bayat" / "evidence" / "config-staging.json").read_text()
    findings = [f for f in evidence(repo, "staging")["findings"] if f["blocking"]]
    assert {(f["file"], f["line"], f["severity"]) for f in findings} == {
        ("config/extra.json", 2, "HIGH"), ("config/local.env", 1, "HIGH"), ("config/staging.yml", 2, "HIGH"),
        ("config/staging.yml", 4, "HIGH")}
    # References pass, and so do values only named like secrets (a length, a TTL).
    assert "SESSION_SECRET" in result.stdout and "env:SESSION_SECRET" in result.stdout


def test_a_secret_may_arrive_as_a_variable_but_is_never_shown(bayat, tmp_path):
    repo = make_repo(tmp_path / "repo", SECRETS_POLICY, {})
    result = bayat("config", "validate", "--env", "staging", "--show", cwd=repo,
                   env={"SHOP_DATABASE_URL": "postgres://app:s3cr3t@db:5432/app", "SHOP_API_TOKEN": "t0k3n"})
    assert result.code == 0, result.stdout
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:] if line.strip()}
    assert rows["DATABASE_URL"][:2] == ["******", "env:"]
    assert rows["API_TOKEN"][:2] == ["******", "env:"]
    assert "s3cr3t" not in result.stdout + (repo / ".bayat" / "evidence" / "config-staging.json").read_text()
    assert "not present, skipped: config/default.yml, config/staging.yml, config/local.env, config/extra.json" \
        in result.stdout


ISOLATION_POLICY = """project: shop
config:
  env_prefix: SHOP_
  keys:
    DATABASE_PASSWORD: { secret: true }
    API_URL: { type: url }
environments:
  production:
    url: https://shop.example.com
  production-eu:
    tier: production
    url: https://eu.shop.example.com:8443
"""


@pytest.mark.parametrize("environment, files, variables, expected", [
    ("staging", {"config/staging.yml": "database_password: vault:kv/shop/prod#db\n"}, {},
     ["config/staging.yml:1:20: error: database_password: references the production secret vault:kv/shop/prod#db "
      "(used by production at config/production.yml:1)"]),
    ("staging", {}, {"SHOP_DATABASE_PASSWORD": "vault:kv/shop/prod#db"},
     ["SHOP_DATABASE_PASSWORD: error: DATABASE_PASSWORD: references the production secret vault:kv/shop/prod#db"]),
    ("testing", {"config/testing.yml": "api_url: https://shop.example.com/v1\n"}, {},
     ["config/testing.yml:1:10: error: api_url: points at production's endpoint shop.example.com "
      "(https://shop.example.com); a testing environment must not reach production"]),
    ("testing", {"config/testing.yml": "cache: redis://eu.shop.example.com:8443/0\n"}, {},
     ["config/testing.yml:1:8: error: cache: points at production-eu's endpoint eu.shop.example.com:8443"]),
    # A look-alike host, another port, and the environment's own secret are fine.
    ("testing", {"config/testing.yml": "api_url: https://myshop.example.com\nother: eu.shop.example.com:9000\n"
                                       "database_password: vault:kv/shop/testing#db\n"}, {}, []),
    # Production itself may use production's secrets and endpoints.
    ("production", {}, {"SHOP_API_URL": "https://shop.example.com/v1"}, []),
])
def test_non_production_never_reaches_production(bayat, tmp_path, environment, files, variables, expected):
    repo = make_repo(tmp_path / "repo", ISOLATION_POLICY,
                     {"config/production.yml": "database_password: vault:kv/shop/prod#db\n", **files})
    result = bayat("config", "validate", "--env", environment, cwd=repo, env=variables)
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert len(errors) == len(expected), result.stdout
    for line, start in zip(errors, expected):
        assert line.startswith(start)
    assert result.code == (1 if expected else 0)
    if expected:
        blocking = [f for f in evidence(repo, environment)["findings"] if f["blocking"]]
        assert [f["severity"] for f in blocking] == ["HIGH"] * len(expected)


def test_connectivity_against_a_live_and_a_closed_port(bayat, tmp_path, service):
    live_port = int(service.rsplit(":", 1)[1])
    dead_port = closed_port()
    repo = make_repo(tmp_path / "repo", """project: shop
config:
  files: [config/app.yml]
  env_prefix: SHOP_
  keys:
    HEALTH_URL: { type: url, check_connectivity: true }
    BROKEN_URL: { type: url, check_connectivity: true }
    MISSING_URL: { type: url, check_connectivity: true }
    CACHE: { type: hostname, check_connectivity: true }
    QUEUE: { type: hostname, check_connectivity: true }
    DATABASE_URL: { type: url, secret: true, check_connectivity: true }
    UNCHECKED: { type: hostname }
""", {"config/app.yml": (f"health_url: {service}/health\nbroken_url: {service}/nowhere\n"
                         f"missing_url: http://127.0.0.1:{dead_port}/\ncache: 127.0.0.1:{live_port}\n"
                         f"queue: 127.0.0.1:{dead_port}\ndatabase_url: env:DB_URL\n"
                         f"unchecked: 127.0.0.1:{dead_port}\n")})
    without = bayat("config", "validate", "--env", "staging", cwd=repo)
    assert without.code == 0, without.stdout
    result = bayat("config", "validate", "--env", "staging", "--connect", cwd=repo,
                   env={"DB_URL": f"postgres://app:pw@127.0.0.1:{dead_port}/app"})
    assert result.code == 1
    errors = [line for line in result.stdout.splitlines() if ": error: " in line]
    assert errors == [
        f"config/app.yml:3:14: error: MISSING_URL: http://127.0.0.1:{dead_port}/ is not reachable: "
        f"[Errno 111] Connection refused",
        f"config/app.yml:5:8: error: QUEUE: 127.0.0.1:{dead_port} is not reachable: Connection refused",
        "config/app.yml:6:15: error: DATABASE_URL: the host is not reachable: Connection refused",
    ]  # a 404 is an answer (reachable); the secret's host is not named
    checks = {c["key"]: c for c in evidence(repo, "staging")["details"]["connectivity"]}
    assert set(checks) == {"HEALTH_URL", "BROKEN_URL", "MISSING_URL", "CACHE", "QUEUE", "DATABASE_URL"}
    assert (checks["HEALTH_URL"]["ok"], checks["HEALTH_URL"]["detail"]) == (True, "HTTP 200")
    assert (checks["BROKEN_URL"]["ok"], checks["BROKEN_URL"]["detail"]) == (True, "HTTP 404")
    assert checks["CACHE"]["ok"] and not checks["QUEUE"]["ok"]
    assert "pw@" not in result.stdout + (repo / ".bayat" / "evidence" / "config-staging.json").read_text()


@pytest.mark.parametrize("value, variables, message", [
    ("env:DB_PASSWORD", {}, "env:DB_PASSWORD does not resolve: the variable DB_PASSWORD is not set"),
    ("env:DB_PASSWORD", {"DB_PASSWORD": "x"}, None),
    ("file:secrets/db", {}, "file:secrets/db does not resolve: no file"),
    ("aws-sm:shop/db", {}, "aws-sm:shop/db is resolved by the pipeline"),
])
def test_connect_checks_that_references_resolve(bayat, tmp_path, value, variables, message):
    repo = make_repo(tmp_path / "repo", "project: shop\nconfig:\n  files: [app.yml]\n  keys:\n"
                                        "    DB_PASSWORD: { secret: true }\n", {"app.yml": f"db_password: {value}\n"})
    result = bayat("config", "validate", "--env", "staging", "--connect", cwd=repo, env=variables)
    if message is None:
        assert result.code == 0, result.stdout
    else:
        assert message in result.stdout
        assert result.code == (0 if value.startswith("aws-sm:") else 1)


@pytest.mark.parametrize("args, message", [
    (("validate",), "the following arguments are required: --env"),
    (("validate", "--env", "qa"), "unknown environment 'qa'"),
    ((), "required: ACTION"),
])
def test_bad_input_exits_2(bayat, tmp_path, args, message):
    repo = make_repo(tmp_path / "repo", "project: shop\n", {})
    result = bayat("config", *args, cwd=repo)
    assert result.code == 2
    assert message in result.stderr


def test_a_file_of_unknown_format_is_bad_input(bayat, tmp_path):
    repo = make_repo(tmp_path / "repo", "project: shop\nconfig:\n  files: [config/app.toml]\n",
                     {"config/app.toml": "a = 1\n"})
    result = bayat("config", "validate", "--env", "staging", cwd=repo)
    assert result.code == 2
    assert "cannot tell the format of 'config/app.toml'" in result.stderr


def test_a_broken_file_fails_with_its_position(bayat, tmp_path):
    repo = make_repo(tmp_path / "repo", "project: shop\n", {"config/staging.yml": "a: 1\na: 2\n"})
    result = bayat("config", "validate", "--env", "staging", cwd=repo)
    assert result.code == 1
    assert "config/staging.yml:2:1: error: a: duplicate key (first defined at line 1)" in result.stdout


def test_an_overridden_production_endpoint_never_reaches_the_environment(bayat, tmp_path):
    repo = make_repo(tmp_path / "repo", ISOLATION_POLICY, {
        "config/default.yml": "api_url: https://shop.example.com/v1\n",
        "config/testing.yml": "api_url: https://testing.shop.internal/v1\n"})
    assert bayat("config", "validate", "--env", "testing", cwd=repo).code == 0
    result = bayat("config", "validate", "--env", "development", cwd=repo)
    assert result.code == 1
    assert "config/default.yml:1:10: error: api_url: points at production's endpoint" in result.stdout


def test_a_password_inside_a_url_is_masked_in_the_table_and_the_evidence(bayat, tmp_path):
    """DATABASE_URL is not named like a secret, but the password in it is one."""
    repo = make_repo(tmp_path / "repo", "project: shop\nconfig:\n  files: [config/app.yml]\n  keys:\n"
                                        "    DATABASE_URL: { type: url }\n",
                     {"config/app.yml": "database_url: postgres://user:Sup3rSecret@db.example.com:5432/db\n"})
    result = bayat("config", "validate", "--env", "staging", "--show", cwd=repo)
    assert result.code == 0, result.stdout + result.stderr
    row = next(line for line in result.stdout.splitlines() if line.startswith("DATABASE_URL "))
    assert row.split()[1] == "postgres://user:***@db.example.com:5432/db"
    written = (repo / ".bayat" / "evidence" / "config-staging.json").read_text()
    assert "Sup3rSecret" not in written + result.stdout + result.stderr
    assert evidence(repo, "staging")["details"]["effective"]["DATABASE_URL"]["value"] == \
        "postgres://user:***@db.example.com:5432/db"


def test_on_github_a_resolved_secret_is_announced_with_add_mask_and_masked_everywhere_else(bayat, tmp_path):
    """The runner hides an ::add-mask:: value in the logs of every later step; our own output masks it too."""
    dead_port = closed_port()
    secret = f"http://127.0.0.1:{dead_port}/hook/Zq81-not-a-word"
    repo = make_repo(tmp_path / "repo", "project: shop\nconfig:\n  files: [app.yml]\n  keys:\n"
                                        "    HOOK_URL: { type: url, check_connectivity: true }\n",
                     {"app.yml": "hook_url: env:HOOK_URL\n"})
    summary = tmp_path / "summary.md"
    result = bayat("config", "validate", "--env", "staging", "--connect", "--show", cwd=repo,
                   env={"HOOK_URL": secret, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.code == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert f"::add-mask::{secret}" in lines
    written = (repo / ".bayat" / "evidence" / "config-staging.json").read_text() + summary.read_text()
    others = [line for line in lines if not line.startswith("::add-mask::")] + result.stderr.splitlines()
    assert not [line for line in others if "Zq81" in line] and "Zq81" not in written
