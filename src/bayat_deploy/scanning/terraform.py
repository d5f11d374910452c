"""Terraform: `terraform init -backend=false` then `terraform validate -json`, leaving the repository as found.

init needs the providers and remote modules. Offline runners cannot download them, and that is
not the code's fault, so it is reported as exactly that (with how to provide a mirror) rather
than as an invalid configuration. init's working state goes to a scratch TF_DATA_DIR, and a lock
file that init had to create is removed again.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Mapping

from bayat_deploy import tools
from bayat_deploy.scanning.infra_model import Check, Problem

INSTALL_HINT = "install terraform (scripts/setup does) to validate Terraform code"
TIMEOUT = 600
OFFLINE_SIGNS = ("could not connect to", "Failed to query available provider packages",
                 "Failed to install provider", "Failed to download module", "no such host",
                 "dial tcp", "i/o timeout", "network is unreachable")
OFFLINE_ADVICE = ("provide them offline: on a connected machine run `terraform providers mirror DIR`, then point "
                  "this machine's CLI configuration (TF_CLI_CONFIG_FILE) at it with provider_installation "
                  "{ filesystem_mirror { path = \"DIR\" } }, or fill a plugin cache (TF_PLUGIN_CACHE_DIR); "
                  "vendor remote modules into the repository")


def validate(root: Path, directory: str, env: Mapping[str, str]) -> list[Check]:
    init = Check("terraform-init", directory, tool="terraform")
    if tools.find("terraform") is None:
        return [init.fail(f"terraform is not installed: {INSTALL_HINT}")]
    module = root / directory
    lock_file = module / ".terraform.lock.hcl"
    had_lock_file = lock_file.exists()
    with tempfile.TemporaryDirectory(prefix="bayat-terraform-") as data_dir:
        child_env = {**env, "TF_DATA_DIR": data_dir, "TF_IN_AUTOMATION": "1", "TF_INPUT": "0",
                     "CHECKPOINT_DISABLE": "1"}
        try:
            proc = tools.run(["terraform", "init", "-backend=false", "-input=false", "-no-color"],
                             cwd=module, env=child_env, timeout=TIMEOUT)
            if proc.returncode != 0:
                return [_init_failure(init, proc.stderr or proc.stdout)]
            init.done("initialised without a backend")
            check = Check("terraform-validate", directory, tool="terraform")
            proc = tools.run(["terraform", "validate", "-json", "-no-color"], cwd=module, env=child_env,
                             timeout=TIMEOUT)
            return [init, _validation(check, directory, proc.stdout, proc.stderr)]
        finally:
            if not had_lock_file:
                lock_file.unlink(missing_ok=True)


def _init_failure(check: Check, output: str) -> Check:
    errors = _errors(output)
    if any(sign in output for sign in OFFLINE_SIGNS):
        wanted = sorted(set(re.findall(r"provider\s+(?:registry\.terraform\.io/)?([\w.-]+/[\w.-]+)", output)))
        what = f"provider(s) {', '.join(wanted)}" if wanted else "providers or modules"
        return check.fail(f"terraform init could not download {what}: this machine has no access to the "
                          f"registry. To validate here, {OFFLINE_ADVICE}", file=f"{check.target}")
    return check.fail(f"terraform init failed: {errors[0] if errors else _tail(output)}")


def _validation(check: Check, directory: str, stdout: str, stderr: str) -> Check:
    try:
        report = json.loads(stdout or "")
    except ValueError:
        return check.fail(f"terraform validate wrote no JSON: {_tail(stderr or stdout)}")
    for diagnostic in report.get("diagnostics") or []:
        where = diagnostic.get("range") or {}
        file = f"{directory}/{where['filename']}" if where.get("filename") else directory
        message = diagnostic.get("summary") or "invalid configuration"
        if diagnostic.get("detail"):
            message = f"{message}: {' '.join(diagnostic['detail'].split())}"
        check.problems.append(Problem(message, blocking=diagnostic.get("severity") == "error", file=file,
                                      line=(where.get("start") or {}).get("line")))
    if not report.get("valid", False) and check.passed:
        check.problems.append(Problem("terraform validate reported the configuration invalid", file=directory))
    return check.done("valid" if check.passed else f"{report.get('error_count', 0)} error(s)")


def _errors(output: str) -> list[str]:
    return [line.split("Error:", 1)[1].strip() for line in output.splitlines() if "Error:" in line]


def _tail(output: str) -> str:
    lines = [line.strip() for line in (output or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
