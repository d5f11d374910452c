"""`generate-pipeline`: `init` scaffolds the policy; without a sub-command it renders the pipelines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bayat_deploy import argtypes
from bayat_deploy import cli as base
from bayat_deploy.errors import EXIT_FAILED, BadInput

DESCRIPTION = ("Render the deployment pipeline (GitHub Actions workflows, .gitlab-ci.yml) from .bayat/deploy.yml; "
               "`generate-pipeline init` writes a starting policy.")
COMMANDS = {
    "init": ("bayat_deploy.generate.cli", "write a minimal, commented .bayat/deploy.yml for this repository"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dir", type=argtypes.path, default=Path("."), help="repository to inspect (default: .)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing .bayat/deploy.yml")
    parser.set_defaults(handler=_init)


def _init(args: argparse.Namespace) -> int:
    from bayat_deploy.generate.init import init

    written = init(args.dir, force=args.force)
    for path in written:
        print(f"wrote {path}")
    print(f"next: bayat-deploy policy show --policy {written[0]}")
    return 0


def _render(args: argparse.Namespace) -> int:
    from bayat_deploy.generate.render import drift, job_image, render_files, write
    from bayat_deploy.policy.loader import load_policy

    loaded = load_policy(args.policy or args.dir / ".bayat" / "deploy.yml")
    for warning in loaded.warnings:
        print(warning.format(), file=sys.stderr)
    if args.image and args.platform == "github":
        raise BadInput("--image is for GitLab pipelines (--platform gitlab or all); the GitHub actions run the "
                       "action's own dist/ and need no image")
    platforms = ("github", "gitlab") if args.platform == "all" else (args.platform,)
    files: dict[str, str] = {}
    for platform in platforms:
        image = job_image(args.image, args.action_ref) if platform == "gitlab" else None
        files.update(render_files(loaded, platform, action_ref=args.action_ref, image=image,
                                  gitlab_ci_file=args.gitlab_ci_file, workflow_prefix=args.workflow_prefix or ""))
    root = loaded.root if args.policy else args.dir
    if args.check:
        problems = drift(root, files)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"{len(problems)} pipeline file(s) differ from {loaded.path}; run `generate-pipeline` and commit "
                  "the result", file=sys.stderr)
            return EXIT_FAILED
        print(f"{len(files)} pipeline file(s) match {loaded.path}")
        return 0
    for path in write(root, files, force=args.force):
        print(f"wrote {path}")
    return 0


def _add_render_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--platform", choices=("github", "gitlab", "all"), default="github",
                        help="which CI system's pipeline to render (default: github)")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 when the committed pipeline files differ from the policy")
    parser.add_argument("--dir", type=argtypes.path, default=Path("."), help="repository to render into (default: .)")
    parser.add_argument("--action-ref", default="v1", type=argtypes.git_ref,
                        help="version of bayat/deploy-action the pipeline uses (a tag, or a commit SHA to pin)")
    parser.add_argument("--force", action="store_true",
                        help="replace pipeline files of your own (by default a file without generate-pipeline's "
                             "header is never overwritten, and nothing is written)")
    parser.add_argument("--gitlab-ci-file", type=argtypes.pipeline_file, metavar="PATH",
                        help="GitLab: write the pipeline to PATH instead of .gitlab-ci.yml, to `include:` it from "
                             "a .gitlab-ci.yml of your own")
    parser.add_argument("--workflow-prefix", type=argtypes.workflow_prefix, default=None, metavar="PREFIX",
                        help="GitHub: name the workflows PREFIXdeploy.yml and PREFIXrollback.yml, beside "
                             "workflows of your own")
    parser.add_argument("--image", type=argtypes.pinned_image,
                        help="GitLab: run every job in this bayat-deploy image, pinned by digest "
                             "(name:X.Y.Z@sha256:...), so no job installs anything (default: the image of this "
                             "bayat-deploy's release, when --action-ref names that release; otherwise the jobs "
                             "install the bayat-deploy of --action-ref with pip)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = base.build_parser("generate-pipeline", DESCRIPTION, COMMANDS, argv)
    _add_render_arguments(parser)
    return base.run_parsed(parser, argv, default=_render)


if __name__ == "__main__":
    sys.exit(main())
