"""`bayat-deploy publish`: push what `build` made to the registries — authenticated, immutable, signed.

Order matters: credentials for every registry, then every tag and file is checked against its registry,
and only when nothing conflicts is anything pushed. A failed run therefore never leaves half a release.
"""

from __future__ import annotations

from bayat_deploy import argtypes
from bayat_deploy.errors import BadInput, BayatError
from bayat_deploy.session import open_session

TOKEN_REGISTRY_TYPES = ("npm-package", "terraform-module", "os-package")  # a token alone may do


def configure(parser) -> None:
    parser.add_argument("--version", metavar="VERSION", type=argtypes.version,
                        help="the version to publish; must be the version the last `bayat-deploy build` built "
                             "(default: that version)")
    parser.add_argument("--only", action="append", metavar="TYPE|NAME", type=argtypes.word,
                        help="publish only the artifacts of this type or name (repeatable; default: all built)")
    parser.add_argument("--retries", type=argtypes.count, default=4, metavar="N",
                        help="attempts per registry operation on transient errors (connection errors, 5xx, 429), "
                             "with exponential backoff from 1s (default: 4)")
    parser.add_argument("--tag", action="store_true",
                        help="then tag the release and push the tag (`version tag --push`), once everything is "
                             "published")
    parser.set_defaults(handler=handle)


def handle(args) -> int:
    code = publish(args)
    if code != 0 or not args.tag:
        return code
    from bayat_deploy.cli import invoke

    return invoke(["version", "tag", "--push"], like=args)


def publish(args) -> int:
    from bayat_deploy import evidence
    from bayat_deploy.registry.credentials import MissingCredentials, registry_of, require_credentials
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    if args.retries < 1:
        raise BadInput("--retries must be at least 1")
    try:
        build = evidence.read(session.evidence_dir, "build")
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    if build is None:
        raise BadInput(f"no build evidence in {session.evidence_dir}: run `bayat-deploy build` first")
    if not build.passed:
        raise BadInput("the last `bayat-deploy build` failed; publish only what built cleanly (build again)")
    if args.version and args.version != build.version:
        raise BadInput(f"--version {args.version}: the last build made version {build.version}; build "
                       f"{args.version} first (bayat-deploy build --version {args.version})")
    version = build.version
    images = [r for r in build.details.get("images", []) if _selected(r, args.only)]
    packages = [r for r in build.details.get("packages", []) if _selected(r, args.only)]
    if args.only and not images and not packages:
        raise BadInput(f"--only {' '.join(args.only)}: the last build made no such artifact")
    run = StageRun(session, "publish", version=version, inputs={"only": args.only or [], "retries": args.retries})

    credentials = {}
    for record in images + packages:
        name = record["registry"]
        if name in credentials:
            continue
        registry = registry_of(session.policy, name)
        need_username = record["type"] not in TOKEN_REGISTRY_TYPES or registry.username is not None
        try:
            credentials[name] = require_credentials(name, registry, session.context, need_username=need_username)
        except MissingCredentials as exc:
            credentials[name] = None
            run.finding(id=f"publish/credentials/{name}", severity="HIGH", tool="publish", blocking=True,
                        title=str(exc))
    if run.blocking:
        return run.finish(False, "nothing was pushed: " + " ".join(f.title for f in run.blocking))

    publisher = _Publisher(session, run, version, credentials, attempts=args.retries)
    try:
        jobs = publisher.check(images, packages)
    except BadInput:
        raise
    except BayatError as exc:
        run.finding(id="publish/check", severity="HIGH", tool="publish", blocking=True, title=str(exc))
        return run.finish(False, f"nothing was pushed: {exc}")
    if run.blocking:
        return run.finish(False, "nothing was pushed: " + " ".join(f.title for f in run.blocking),
                          publisher.markdown())
    try:
        publisher.publish(jobs)
    except BadInput:
        raise
    except BayatError as exc:
        run.finding(id="publish/push", severity="HIGH", tool="publish", blocking=True, title=str(exc))
        return run.finish(False, f"publishing failed: {exc}", publisher.markdown())
    pushed = sum(1 for row in publisher.rows if row["action"] == "pushed")
    skipped = sum(1 for row in publisher.rows if row["action"] == "skipped")
    run.summary.update(pushed=pushed, skipped=skipped, signatures=len(publisher.signatures))
    return run.finish(True, f"version {version}: {pushed} pushed, {skipped} already there (same content), "
                            f"{len(publisher.signatures)} signature(s)", publisher.markdown())


def _selected(record: dict, only: list[str] | None) -> bool:
    if not only:
        return True
    name = record["name"]
    return any(s in (record["type"], name, name.rsplit("/", 1)[-1]) for s in only)


class _Publisher:
    """Checks, then pushes and signs; keeps the rows of the summary table and the evidence details."""

    def __init__(self, session, run, version: str, credentials: dict, *, attempts: int):
        self.session, self.run, self.version, self.credentials, self.attempts = (
            session, run, version, credentials, attempts)
        self.rows: list[dict] = []
        self.signatures: list[str] = []
        self._docker = None

    def docker(self):
        if self._docker is None:
            from bayat_deploy.dockerclient import docker_client

            self._docker = docker_client(self.session.context)
        return self._docker

    def check(self, images: list[dict], packages: list[dict]) -> list:
        from bayat_deploy.registry import images as image_publishing
        from bayat_deploy.registry.credentials import registry_of
        from bayat_deploy.registry.signing import signer_for

        jobs = []
        for record in images:
            registry = registry_of(self.session.policy, record["registry"])
            job = image_publishing.prepare(record, record["registry"], registry, self.credentials[record["registry"]],
                                           self.docker(), attempts=self.attempts, say=print,
                                           root=self.session.root)
            if record.get("sign", True):
                signer = signer_for(registry, self.session.root, self.session.context, job.credentials)
                if signer is not None:
                    signer.ready()
            for plan in job.conflicts:
                self.run.finding(id=f"publish/immutable/{record['name']}:{plan.tag}", severity="HIGH",
                                 tool="publish", blocking=True, title=plan.reason)
            jobs.append(("image", job))
        for record in packages:
            publisher = self._package_publisher(record)
            for item in record["files"]:
                path = self.session.root / item["path"]
                if not path.is_file():
                    raise BadInput(f"{item['path']} (built by the last build) is missing; build again")
                check = publisher.check(path)
                if check.action == "conflict":
                    self.run.finding(id=f"publish/immutable/{record['name']}/{path.name}", severity="HIGH",
                                     tool="publish", blocking=True, title=check.reason)
                jobs.append(("package", (record, item, path, publisher, check)))
        return jobs

    def _package_publisher(self, record: dict):
        from bayat_deploy.registry import packages as package_publishing
        from bayat_deploy.registry.credentials import registry_of

        registry = registry_of(self.session.policy, record["registry"])
        credentials, context = self.credentials[record["registry"]], self.session.context
        kind = record["type"]
        if kind == "helm-chart":
            return package_publishing.HelmPublisher(registry.url, credentials, insecure=registry.insecure,
                                                    context=context, attempts=self.attempts, say=print)
        if kind == "python-package":
            return package_publishing.PythonPublisher(registry.url, credentials, context=context,
                                                      attempts=self.attempts, say=print)
        if kind == "npm-package":
            return package_publishing.NpmPublisher(registry.url, credentials, context=context,
                                                   attempts=self.attempts, say=print)
        return package_publishing.GenericPublisher(registry.url, record["name"], self.version, credentials,
                                                   attempts=self.attempts, say=print)

    def publish(self, jobs: list) -> None:
        from bayat_deploy.registry import images as image_publishing
        from bayat_deploy.registry.signing import signer_for

        published = []
        for kind, job in jobs:
            if kind == "package":
                record, item, path, publisher, check = job
                if check.action == "skip":
                    print(f"{check.location}: {check.reason}; not uploaded again")
                    digest = item["sha256"]
                else:
                    digest = publisher.upload(path) or item["sha256"]
                    print(f"uploaded {path.name} to {check.location}")
                self._row(record["name"], record["type"], check.location, digest,
                          "skipped" if check.action == "skip" else "pushed")
                self.run.artifact(type=record["type"], name=record["name"], reference=check.location,
                                  digest=digest, path=item["path"])
                published.append({"type": record["type"], "name": record["name"], "file": item["path"],
                                  "location": check.location, "digest": digest, "action": check.action})
                continue
            image_publishing.push(job, self.docker(), attempts=self.attempts, say=print)
            record = job.record
            signatures = []
            signer = signer_for(job.registry, self.session.root, self.session.context, job.credentials)
            if record.get("sign", True) and signer is not None:
                signatures = image_publishing.sign(job, signer)
                self.signatures += signatures
                for location in signatures:
                    self.run.artifact(type="signature", name=record["name"],
                                      reference=f"{job.repository.name}@{job.digest}", digest=job.digest,
                                      path=location)
            reference = f"{job.repository.name}@{job.digest}"
            for plan in job.plans:
                self._row(record["name"], "docker-image", str(job.repository.with_tag(plan.tag)),
                          job.digests[plan.tag], "skipped" if plan.action == "skip" else "pushed")
            self.run.artifact(type="docker-image", name=record["name"], reference=reference, digest=job.digest)
            published.append({"type": "docker-image", "name": record["name"], "image": reference,
                              "digest": job.digest, "tags": {p.tag: {"action": p.action, "reason": p.reason,
                                                                     "digest": job.digests[p.tag]}
                                                             for p in job.plans},
                              "signing": job.registry.signing.method if record.get("sign", True) else "none",
                              "signatures": signatures})
            if not any(p["type"] == "docker-image" for p in published[:-1]):
                self.run.output("digest", job.digest)
                self.run.output("image", reference)
        self.run.details["published"] = published

    def _row(self, name: str, kind: str, location: str, digest: str, action: str) -> None:
        self.rows.append({"name": name, "type": kind, "location": location, "digest": digest, "action": action})

    def markdown(self) -> str:
        lines = []
        if self.rows:
            lines += ["| artifact | type | where | digest | |", "|---|---|---|---|---|"]
            lines += [f"| {r['name']} | {r['type']} | `{r['location']}` | `{(r['digest'] or '')[:19]}` "
                      f"| {r['action']} |" for r in self.rows]
        if self.signatures:
            lines += ["", "| signature |", "|---|"] + [f"| `{s}` |" for s in self.signatures]
        blocking = self.run.blocking
        if blocking:
            lines += ["", "| problem |", "|---|"] + [f"| {f.title} |" for f in blocking]
        return "\n".join(lines)
