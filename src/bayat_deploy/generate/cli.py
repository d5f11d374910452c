"""`generate-pipeline`: `init` scaffolds the policy; without a sub-command it renders the pipelines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bayat_deploy import cli as base
from bayat_deploy.errors import EXIT_FAILED

COMMANDS = {
    "init": ("bayat_deploy.generate.cli", "write a minimal, commented .bayat/deploy.yml for this repository"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=Path, default=Path("."), help="repository to inspect (default: .)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing .bayat/deploy.yml")
    parser.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    from bayat_deploy.generate.init import init

    written = init(args.dir, force=args.force)
    print(f"wrote {written}")
    print(f"next: bayat-deploy policy show --policy {written}")
    return 0


def _render(args: argparse.Namespace) -> int:
    print("generate-pipeline: rendering GitHub Actions and GitLab CI pipelines is not available in this "
          "version yet; only `generate-pipeline init` is. Nothing was written.", file=sys.stderr)
    return EXIT_FAILED


def main(argv: Sequence[str] | None = None) -> int:
    return base.run("generate-pipeline", "Scaffold the deployment policy and render pipelines from it.",
                    COMMANDS, argv, default=_render)


if __name__ == "__main__":
    sys.exit(main())
