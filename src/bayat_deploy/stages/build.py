"""`bayat-deploy build`: static analysis, then every artifact of the policy, then an SBOM per image."""

from __future__ import annotations

from bayat_deploy import argtypes
from bayat_deploy.errors import BadInput, BayatError
from bayat_deploy.session import open_session


def configure(parser) -> None:
    parser.add_argument("--version", metavar="VERSION", type=argtypes.version,
                        help="version to build (default: the version tag on HEAD, else the next version "
                             "computed from the commits, as `bayat-deploy version next` prints it)")
    parser.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE", type=argtypes.key_value,
                        help="Docker build argument; overrides the policy's build_args (repeatable)")
    parser.add_argument("--only", action="append", metavar="TYPE|NAME", type=argtypes.word,
                        help="build only the artifacts of this type (docker-image, helm-chart...) or name "
                             "(repeatable; default: all artifacts in the policy)")
    parser.add_argument("--no-sbom", action="store_true", help="do not produce the CycloneDX SBOMs of the images")
    parser.add_argument("--save-images", action="store_true",
                        help="also write each image as a `docker save` archive in .bayat/dist/images/, for scan "
                             "and publish jobs that run on other machines")
    parser.set_defaults(handler=handle)


def parse_build_args(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInput(f"--build-arg {item!r}: write KEY=VALUE")
        values[key.strip()] = value
    return values


def handle(args) -> int:
    from bayat_deploy import tools
    from bayat_deploy.building.builder import Builder
    from bayat_deploy.building.plan import artifact_name, select, version_for
    from bayat_deploy.stages.run import StageRun

    session = open_session(args)
    policy = session.policy
    build_args = parse_build_args(args.build_arg)
    artifacts = select(policy, args.only)
    version = version_for(session, args.version)
    run = StageRun(session, "build", version=version,
                   inputs={"only": args.only or [], "build_args": sorted(build_args), "sbom": not args.no_sbom})

    analysis = []
    for command in policy.build.static_analysis:
        print(f"static analysis {command.name}: {command.run}")
        try:
            proc = tools.shell(command.run, cwd=session.root / command.working_directory,
                               env=session.context.tool_env(), timeout=command.timeout.seconds)
            code, problem = proc.returncode, f"exit {proc.returncode}"
        except BayatError as exc:
            code, problem = -1, str(exc)
        analysis.append({"name": command.name, "command": command.run, "exit_code": code})
        if code != 0:
            run.finding(id=f"static-analysis/{command.name}", severity="HIGH", tool=command.name, blocking=True,
                        title=f"static analysis `{command.name}` failed ({problem}): {command.run}")
    run.details["static_analysis"] = analysis
    if run.blocking:
        names = ", ".join(f.tool for f in run.blocking)
        return run.finish(False, f"static analysis failed ({names}); nothing was built",
                          _markdown(analysis, [], []))

    builder = Builder(session, version, build_args, sbom=not args.no_sbom, save_images=args.save_images)
    images, packages = [], []
    for artifact in artifacts:
        name = artifact_name(policy, artifact)
        try:
            built = builder.build(artifact)
        except BadInput:
            raise
        except BayatError as exc:
            log = getattr(exc, "log", None)
            run.finding(id=f"build/{artifact.type}/{name}", severity="HIGH", tool=artifact.type, blocking=True,
                        title=f"{artifact.type} {name} did not build", detail=str(exc) + (
                            "\n\nlog of the failing step:\n" + "\n".join(log) if log else ""))
            print(f"error: {exc}")
            continue
        record = built.record
        if built.kind == "image":
            images.append(record)
            run.artifact(type="docker-image", name=name, reference=record["references"][0],
                         digest=record["image_id"])
            if record["sbom"]:
                run.artifact(type="sbom", name=name, reference=record["references"][0],
                             digest=record["sbom"]["sha256"], path=record["sbom"]["path"])
        else:
            packages.append(record)
            for item in record["files"]:
                run.artifact(type=artifact.type, name=name, reference=item["path"], digest=item["sha256"],
                             path=item["path"])
    run.details.update(images=images, packages=packages)
    run.summary.update(images=len(images), packages=sum(len(p["files"]) for p in packages),
                       failed=len(run.blocking))
    if images:
        first = images[0]
        run.output("image", first["references"][0])
        run.output("tags", ",".join(first["references"]))
        run.output("image-id", first["image_id"])
    markdown = _markdown(analysis, images, packages)
    if run.blocking:
        names = ", ".join(f.title for f in run.blocking)
        return run.finish(False, f"{len(run.blocking)} artifact(s) failed: {names}", markdown)
    built_count = len(images) + sum(len(p["files"]) for p in packages)
    return run.finish(True, f"version {version}: {built_count} artifact(s) built", markdown)


def _markdown(analysis: list[dict], images: list[dict], packages: list[dict]) -> str:
    lines = []
    if analysis:
        lines += ["| static analysis | command | result |", "|---|---|---|"]
        lines += [f"| {a['name']} | `{a['command']}` | {'ok' if a['exit_code'] == 0 else 'FAILED'} |"
                  for a in analysis]
        lines.append("")
    if images or packages:
        lines += ["| artifact | type | reference | digest / image id |", "|---|---|---|---|"]
        for image in images:
            tags = ", ".join(f"`{t}`" for t in image["tags"])
            lines.append(f"| {image['name']} | docker-image | `{image['references'][0]}` (tags: {tags}) "
                         f"| `{image['image_id'][:19]}` |")
            if image["sbom"]:
                lines.append(f"| {image['name']} | sbom | `{image['sbom']['path']}` "
                             f"({image['sbom']['components']} components) | `{image['sbom']['sha256'][:19]}` |")
        for package in packages:
            for item in package["files"]:
                lines.append(f"| {package['name']} | {package['type']} | `{item['path']}` | `{item['sha256'][:19]}` |")
    return "\n".join(lines)
