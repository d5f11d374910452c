"""Resolving secret references (`env:NAME`, `file:path`, `vault:path#key`, `aws-sm:name`) to values.

Values are resolved at the moment they are needed and never written to evidence or logs.
"""

from __future__ import annotations

from pathlib import Path

from bayat_deploy import redact
from bayat_deploy.context import RunContext
from bayat_deploy.errors import BadInput
from bayat_deploy.policy.types import SecretRef


def resolve(ref: SecretRef | None, context: RunContext, *, what: str) -> str | None:
    """The secret's value, or None when the reference is None or points at an unset variable. From now
    on the value is masked in everything this process prints or writes (see `redact`)."""
    value = _resolve(ref, context, what)
    redact.remember(value)
    return value


def _resolve(ref: SecretRef | None, context: RunContext, what: str) -> str | None:
    if ref is None:
        return None
    if ref.scheme == "env":
        return context.env.get(ref.target) or None
    if ref.scheme == "file":
        try:
            return Path(ref.target).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise BadInput(f"{what}: cannot read secret file {ref.target}: {exc.strerror}") from None
    if ref.scheme == "vault":
        return _vault(ref, context, what)
    raise BadInput(f"{what}: {ref.scheme}: references are resolved by the pipeline (e.g. an AWS Secrets Manager "
                   f"step exporting an environment variable); refer to that variable with env:NAME")


def _vault(ref: SecretRef, context: RunContext, what: str) -> str:
    """Read a key from HashiCorp Vault's KV v2 engine: vault:<mount>/<path>#<key>."""
    import requests

    address, token = context.get("VAULT_ADDR"), context.get("VAULT_TOKEN")
    if not address or not token:
        raise BadInput(f"{what}: vault: references need VAULT_ADDR and VAULT_TOKEN in the environment")
    path, _, key = ref.target.partition("#")
    mount, _, secret_path = path.partition("/")
    if not (mount and secret_path and key):
        raise BadInput(f"{what}: write vault references as vault:<mount>/<path>#<key>, got vault:{ref.target}")
    url = f"{address.rstrip('/')}/v1/{mount}/data/{secret_path}"
    try:
        response = requests.get(url, headers={"X-Vault-Token": token}, timeout=10)
    except requests.RequestException as exc:
        raise BadInput(f"{what}: Vault at {address} is unreachable: {exc}") from None
    if response.status_code != 200:
        raise BadInput(f"{what}: Vault answered {response.status_code} for {mount}/{secret_path}")
    data = response.json().get("data", {}).get("data", {})
    if key not in data:
        raise BadInput(f"{what}: Vault secret {mount}/{secret_path} has no key {key!r}")
    return str(data[key])
