"""`bayat-deploy scan`: security scan and infrastructure validation (standard: Scan; Required Checks).

Exit 0 when nothing at or above the policy's severity remains un-ignored and every scanner and
validator ran; 1 otherwise (including a missing vulnerability database); 2 for bad input such as
an ignore entry without a reason or an expiry.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bayat_deploy import argtypes


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Scan the repository with trivy (dependency vulnerabilities, secrets, misconfigurations in "
        "Dockerfile/Kubernetes/Helm/Terraform; the policy's scan.scanners), every built image, and the "
        "rendered Helm manifests; run SAST (bandit for Python); validate Helm charts and Terraform. Fails "
        "when a finding at or above scan.severity is not ignored. Always offline: the vulnerability "
        "database must already be in trivy's cache. Writes .bayat/reports/scan.sarif, GitLab dependency and "
        "container scanning reports, and the evidence scan.json and infrastructure.json.")
    parser.add_argument("--image", dest="images", action="append", default=[], metavar="REF", type=argtypes.image,
                        help="scan this image instead of the images in the build stage's evidence "
                             "(repeatable; the image must be in the local Docker engine or reachable registry)")
    parser.add_argument("--skip-images", action="store_true",
                        help="scan the repository only, not the built images")
    parser.add_argument("--cache-dir", type=argtypes.path, metavar="DIR",
                        help="trivy's cache directory holding the vulnerability database in DIR/db/ "
                             "(default: $TRIVY_CACHE_DIR, else ~/.cache/trivy)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from bayat_deploy.errors import BadInput
    from bayat_deploy.scanning.runner import Options, run_scan
    from bayat_deploy.session import open_session

    if args.skip_images and args.images:
        raise BadInput("--skip-images and --image contradict each other: give one of them")
    session = open_session(args)
    cache_dir = args.cache_dir
    if cache_dir is not None and not cache_dir.is_absolute():
        cache_dir = Path.cwd() / cache_dir
    return run_scan(session, Options(images=tuple(args.images), skip_images=args.skip_images, cache_dir=cache_dir))
