"""Throw-away GPG keys for signing tests: generated in a temporary GNUPGHOME, never committed."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class GpgHome:
    path: Path
    fingerprints: dict[str, str] = field(default_factory=dict)  # e-mail -> fingerprint

    @property
    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.path)}

    def gpg(self, *args: str) -> str:
        proc = subprocess.run(["gpg", "--batch", *args], capture_output=True, text=True,
                              env={**os.environ, **self.env}, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"gpg {' '.join(args)}: {proc.stderr}")
        return proc.stdout

    def add_key(self, email: str, name: str = "Bayat Test Signer") -> str:
        """Generate an ed25519 signing key without a passphrase; returns its fingerprint."""
        self.gpg("--passphrase", "", "--quick-gen-key", f"{name} <{email}>", "ed25519", "sign", "never")
        listing = self.gpg("--with-colons", "--list-secret-keys", email)
        fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
        self.fingerprints[email] = fingerprint
        return fingerprint

    def remove(self) -> None:
        subprocess.run(["gpgconf", "--kill", "all"], env={**os.environ, **self.env}, capture_output=True, timeout=30)
        shutil.rmtree(self.path, ignore_errors=True)


def make_gpg_home(*emails: str) -> GpgHome:
    """A GNUPGHOME under /tmp (short: gpg-agent's socket path has a length limit) with one key per e-mail."""
    home = GpgHome(Path(tempfile.mkdtemp(prefix="bayat-gpg-", dir="/tmp")))
    home.path.chmod(0o700)
    try:
        for email in emails:
            home.add_key(email)
    except Exception:
        home.remove()
        raise
    return home
