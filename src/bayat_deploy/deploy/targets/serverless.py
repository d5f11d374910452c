"""Serverless target: Lambda versions behind one alias, traffic shifted with the alias's routing weights.

Tracks are published Lambda versions (immutable): `stable` is the alias's primary version, the
`candidate` gets an additional weight (`RoutingConfig.AdditionalVersionWeights`), and `warm` is the
previous stable, still published, so a rollback is one `update-alias`. Which version plays which
track is kept in the alias's description, so the state lives in AWS and survives a fresh CI runner.

Verbs -> commands (all through the command runner, `--region` and `--output json` on every aws call):
  prepare  `aws sts get-caller-identity` (the account must be the environment's own)
  launch   a version already published for the release is reused; otherwise `sam deploy` (stack
           `<project>-<environment>`, parameters Stage/AppVersion/ImageUri/LiveVersion) or
           `serverless deploy --stage <environment>`, then `aws lambda publish-version`
  health   `aws lambda get-function-configuration --qualifier N` (State Active) and
           `aws lambda invoke --qualifier N` with an API Gateway event for the health path
  shift    `aws lambda update-alias --function-version <primary> --routing-config {...}`
  promote  `update-alias` to the track's version with no routing weights
  retire   forget the track and drop its routing weight (versions stay published: they are immutable)
  current  `aws lambda get-alias`
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from bayat_deploy.deploy.access import target_env
from bayat_deploy.deploy.targets.base import Health, Instance, Release, State, Target, Track
from bayat_deploy.deploy.targets.commands import CommandRunner
from bayat_deploy.errors import BadInput, BayatError

PRIMARY_ORDER = ("stable", "warm", "candidate")  # who keeps the alias's primary version while sharing traffic
NOT_FOUND = "ResourceNotFoundException"


def health_event(path: str) -> dict:
    """An API Gateway (HTTP API, payload 2.0) request for GET `path`, as the alias receives it."""
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "", "headers": {},
            "requestContext": {"http": {"method": "GET", "path": path, "sourceIp": "127.0.0.1"}},
            "isBase64Encoded": False}


class ServerlessTarget(Target):
    kind = "serverless"

    def __init__(self, session, environment: str, runner: CommandRunner | None = None):
        policy = session.policy
        super().__init__(session, environment)
        self.runner = runner or CommandRunner(target_env(session, environment))
        self.function = policy.substitute(self.spec.function_name, environment)
        self.stack = policy.substitute(self.spec.stack, environment)
        self.alias = self.spec.alias
        self.sleep = time.sleep
        self._configurations: dict[str, dict] = {}  # version -> configuration; versions never change
        self._outputs: dict[str, str] | None = None

    # ----------------------------------------------------------------- plumbing
    def aws(self, *args: str) -> list[str]:
        return ["aws", *args, "--region", self.spec.region, "--output", "json"]

    def _json(self, argv: list[str], what: str) -> dict:
        result = self.runner.check(argv, what=what)
        try:
            return json.loads(result.stdout or "{}")
        except json.JSONDecodeError:
            raise BayatError(f"{what}: {argv[0]} answered something that is not JSON: {result.stdout[:200]}") \
                from None

    def _alias(self) -> dict | None:
        result = self.runner.run(self.aws("lambda", "get-alias", "--function-name", self.function,
                                          "--name", self.alias))
        if not result.ok:
            if NOT_FOUND in result.stderr:
                return None
            raise BayatError(f"cannot read the {self.alias} alias of {self.function}: {result.message()}")
        try:
            return json.loads(result.stdout or "null")  # nothing at all: a dry run's empty answer
        except json.JSONDecodeError:
            raise BayatError(f"aws lambda get-alias answered something that is not JSON: {result.stdout[:200]}") \
                from None

    def _configuration(self, version: str) -> dict:
        if version not in self._configurations:
            self._configurations[version] = self._json(
                self.aws("lambda", "get-function-configuration", "--function-name", self.function,
                         "--qualifier", version), f"reading version {version} of {self.function}")
        return self._configurations[version]

    def _track(self, name: str, version: str, weight: int, retire_after: str = "") -> Track:
        release_version = self._configuration(version).get("Description") or version
        qualified = f"{self.function}:{version}"
        release = Release(version=release_version, image=qualified)
        instances = [Instance(qualified, qualified, release_version) for _ in range(self.env.resources.replicas)]
        return Track(name, release, instances, weight, retire_after)

    @staticmethod
    def _lambda_version(track: Track) -> str:
        return track.release.image.rsplit(":", 1)[1]

    def _update_alias(self, versions: dict[str, str], weights: dict[str, int] | None, warm_until: str = "") -> None:
        """One update-alias call: the primary version and the routing weight (unless `weights` is None: then
        traffic stays as it is), and who is who."""
        live = [t for t in PRIMARY_ORDER if (weights or {}).get(t, 0) > 0 and t in versions]
        if len(live) > 2:
            raise BayatError(f"a Lambda alias routes to at most two versions; asked for {weights}")
        args = ["lambda", "update-alias", "--function-name", self.function, "--name", self.alias]
        if live:
            additional = {versions[t]: round(weights[t] / 100, 4) for t in live[1:]}
            args += ["--function-version", versions[live[0]],
                     "--routing-config", json.dumps({"AdditionalVersionWeights": additional})]
        description = {"bayat-deploy": 1, **versions}
        if warm_until and "warm" in versions:
            description["warm_until"] = warm_until
        args += ["--description", json.dumps(description, separators=(",", ":"))]
        self.runner.check(self.aws(*args), what=f"moving the {self.alias} alias")

    def _versions(self, state: State) -> dict[str, str]:
        return {name: self._lambda_version(track) for name, track in state.tracks.items()}

    # ----------------------------------------------------------------- verbs
    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        identity = self._json(self.aws("sts", "get-caller-identity"), "checking the AWS credentials")
        if self.spec.account and identity.get("Account") != self.spec.account:
            raise BayatError(f"the AWS credentials are for account {identity.get('Account')}, but "
                             f"{self.environment} deploys to account {self.spec.account} (standard: a separate "
                             "AWS account per environment); nothing was changed")
        if self.spec.framework == "sam":
            self._check_template()
        else:
            self._check_serverless_config()

    def _check_serverless_config(self) -> None:
        from bayat_deploy.deploy.targets.serverless_template import read_template

        path = self.session.root / self.session.policy.substitute(self.spec.template, self.environment)
        if not path.is_file():
            return  # `serverless deploy` finds its own configuration (serverless.ts, .js...)
        try:
            functions = (read_template(path.read_text()).get("functions") or {}).items()
        except ValueError as exc:
            raise BadInput(f"{path}: not readable YAML: {exc}") from None
        for name, function in functions:
            settings = (function or {}).get("deploymentSettings") or {}
            if settings.get("alias") == self.alias:
                raise BadInput(f"{path}: function {name} has deploymentSettings for the {self.alias} alias, so "
                               f"CodeDeploy would move it during `serverless deploy` while bayat-deploy shifts it "
                               "too; remove deploymentSettings (bayat-deploy creates and moves the alias) or deploy "
                               "with `serverless deploy` alone")

    def _template(self):
        path = self.session.root / self.session.policy.substitute(self.spec.template, self.environment)
        if not path.is_file():
            raise BadInput(f"target.template: {path} does not exist; generate one with the serverless target's "
                           "template generator or point target.template at your SAM template")
        return path

    def _check_template(self) -> dict:
        from bayat_deploy.deploy.targets.serverless_template import read_template, shifts_serving_alias

        path = self._template()
        try:
            document = read_template(path.read_text())
        except ValueError as exc:
            raise BadInput(f"{path}: not a readable SAM template: {exc}") from None
        function = shifts_serving_alias(document, self.alias)
        if function:
            raise BadInput(f"{path}: {function} has AutoPublishAlias {self.alias} with a DeploymentPreference, so "
                           f"CodeDeploy would move the {self.alias} alias during `sam deploy` while bayat-deploy "
                           "shifts it too; publish with another alias (the generated template uses "
                           "`candidate`) or deploy that template with `sam deploy` alone")
        return document

    def current(self) -> State:
        alias = self._alias()
        state = State(self.environment)
        if alias is None:
            return state
        try:
            roles = json.loads(alias.get("Description") or "{}")
        except json.JSONDecodeError:
            roles = {}
        if not isinstance(roles, dict) or "bayat-deploy" not in roles:
            roles = {"stable": alias["FunctionVersion"]}  # an alias bayat-deploy has not moved yet
        additional = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        weights = {version: round(share * 100) for version, share in additional.items()}
        weights[alias["FunctionVersion"]] = 100 - sum(weights.values())
        for name in ("stable", "candidate", "warm"):
            version = roles.get(name)
            if version:
                until = roles.get("warm_until", "") if name == "warm" else ""
                state.tracks[name] = self._track(name, str(version), weights.pop(str(version), 0), until)
        return state

    def launch(self, release: Release, track: str, count: int) -> Track:
        state = self.current()
        existing = state.tracks.get(track)
        if existing and existing.release.version == release.version:
            return existing  # a function scales by itself: more "instances" of a version are the same version
        if existing:
            raise BayatError(f"track {track} already runs {existing.release.version}; abort or promote it first")
        version = self._published(release) or self._deploy(release, state)
        taken = {name: t for name, t in state.tracks.items() if self._lambda_version(t) == version}
        if taken:
            name, other = next(iter(taken.items()))
            raise BayatError(f"{release.version} published no new Lambda version: version {version} is the {name} "
                             f"track ({other.release.version}), so code and configuration are unchanged")
        versions = {**self._versions(state), track: version}
        if self._alias() is None:
            self.runner.check(self.aws("lambda", "create-alias", "--function-name", self.function, "--name",
                                       self.alias, "--function-version", version, "--description",
                                       json.dumps({"bayat-deploy": 1, track: version}, separators=(",", ":"))),
                              what=f"creating the {self.alias} alias")
        else:
            warm = state.tracks.get("warm")
            self._update_alias(versions, None, warm.retire_after if warm else "")
        return self.current().tracks[track]

    def _published(self, release: Release) -> str | None:
        """A version already published for this release: redeploying it (a rollback) costs nothing."""
        listing = self._json(self.aws("lambda", "list-versions-by-function", "--function-name", self.function),
                             f"listing the versions of {self.function}") if self._alias() is not None else {}
        matches = [v["Version"] for v in listing.get("Versions", [])
                   if v.get("Version") != "$LATEST" and v.get("Description") == release.version]
        return max(matches, key=int) if matches else None

    def _deploy(self, release: Release, state: State) -> str:
        stable = state.tracks.get("stable")
        live = self._lambda_version(stable) if stable else ""
        if self.spec.framework == "sam":
            self._sam_deploy(release, live)
        else:
            self.runner.check(["serverless", "deploy", "--stage", self.environment, "--region", self.spec.region,
                               f"--param=appVersion={release.version}", f"--param=imageUri={release.pinned}",
                               f"--param=liveVersion={live}"], cwd=self.session.root,
                              what=f"deploying {release.version} with the Serverless Framework")
        published = self._json(self.aws("lambda", "publish-version", "--function-name", self.function,
                                        "--description", release.version),
                               f"publishing {release.version} as a Lambda version")
        self._configurations.pop(str(published["Version"]), None)
        return str(published["Version"])

    def _sam_deploy(self, release: Release, live: str) -> None:
        path = self._template()
        declared = set((self._check_template().get("Parameters") or {}))
        offered = {"Stage": self.environment, "AppVersion": release.version, "ImageUri": release.pinned,
                   "LiveVersion": live}
        template = str(path.relative_to(self.session.root)) if path.is_relative_to(self.session.root) else str(path)
        if "ImageUri" not in declared:  # code from the repository: build it first
            self.runner.check(["sam", "build", "--template-file", template], cwd=self.session.root,
                              what="building the functions")
            template = ".aws-sam/build/template.yaml"
        policy = self.session.policy
        argv = ["sam", "deploy", "--template-file", template, "--stack-name", self.stack,
                "--region", self.spec.region, "--capabilities", "CAPABILITY_IAM", "--no-confirm-changeset",
                "--no-fail-on-empty-changeset", "--resolve-s3",
                "--parameter-overrides", *[f"{k}={v}" for k, v in offered.items() if k in declared],
                "--tags", f"project={policy.project}", f"environment={self.environment}",
                f"version={release.version}"]
        self.runner.check(argv, cwd=self.session.root, what=f"deploying {release.version} with AWS SAM")

    def health(self, track: str, timeout: float) -> Health:
        state = self.current()
        if track not in state.tracks:
            return Health(False, f"no {track} track")
        version = self._lambda_version(state.tracks[track])
        deadline = time.monotonic() + timeout
        configuration = self._configuration(version)
        while True:
            status = configuration.get("State")
            if status == "Failed" or configuration.get("LastUpdateStatus") == "Failed":
                return Health(False, f"version {version} failed: {configuration.get('StateReason', 'no reason given')}")
            if status == "Active":
                return self._invoke(version)
            if time.monotonic() > deadline:
                return Health(False, f"version {version} still {status} after {timeout:g}s")
            self.sleep(1.0)
            self._configurations.pop(version, None)  # State changes while the version is being prepared
            configuration = self._configuration(version)

    def _invoke(self, version: str) -> Health:
        path = self.env.verify.health_path
        self.state_dir.mkdir(parents=True, exist_ok=True)
        response = self.state_dir / f"health-{version}.json"
        response.unlink(missing_ok=True)
        answer = self._json(self.aws("lambda", "invoke", "--function-name", self.function, "--qualifier", version,
                                     "--cli-binary-format", "raw-in-base64-out", "--payload",
                                     json.dumps(health_event(path)), str(response)),
                            f"invoking version {version}")
        if answer.get("FunctionError"):
            return Health(False, f"version {version} raised an error ({answer['FunctionError']}) on GET {path}")
        if answer.get("StatusCode") != 200:
            return Health(False, f"invoking version {version} answered {answer.get('StatusCode')}")
        status = _response_status(response)
        if status is not None and status != 200:
            return Health(False, f"version {version}: GET {path} answered {status}")
        return Health(True, f"version {version} is active and GET {path} answered 200")

    def shift(self, weights: dict[str, int]) -> None:
        if sum(weights.values()) != 100:
            raise BayatError(f"traffic weights must add up to 100, got {weights}")
        state = self.current()
        unknown = [t for t, w in weights.items() if w > 0 and t not in state.tracks]
        if unknown:
            raise BayatError(f"cannot route traffic to {', '.join(unknown)}: no such track")
        warm = state.tracks.get("warm")
        self._update_alias(self._versions(state), weights, warm.retire_after if warm else "")

    def promote(self, track: str, *, keep_warm_for: float = 0.0) -> None:
        state = self.current()
        versions = {"stable": self._lambda_version(state.tracks[track])}
        old = state.tracks.get("stable")
        until = ""
        if old and track != "stable" and keep_warm_for > 0:
            versions["warm"] = self._lambda_version(old)
            until = (datetime.now(timezone.utc) + timedelta(seconds=keep_warm_for)).isoformat()
        self._update_alias(versions, {"stable": 100}, until)

    def retire(self, track: str, count: int | None = None) -> None:
        state = self.current()
        current = state.tracks.get(track)
        if current is None or (count is not None and count < len(current.instances)):
            return  # no instances to stop: part of a version is still the whole version
        if current.weight > 0:
            raise BayatError(f"track {track} still receives {current.weight}% of traffic; shift it away first")
        versions = {name: v for name, v in self._versions(state).items() if name != track}
        warm = state.tracks.get("warm")
        self._update_alias(versions, None, warm.retire_after if warm and track != "warm" else "")


    def _stack_outputs(self) -> dict[str, str]:
        if self._outputs is None:
            stacks = self._json(self.aws("cloudformation", "describe-stacks", "--stack-name", self.stack),
                                f"reading the outputs of stack {self.stack}").get("Stacks") or [{}]
            self._outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        return self._outputs

    def url(self) -> str:
        if self.env.url:
            return str(self.env.url).rstrip("/")
        outputs = self._stack_outputs()
        for key in ("ApiUrl", "HttpApiUrl", "ServiceEndpoint"):
            if key in outputs:
                return outputs[key].rstrip("/")
        raise BayatError(f"stack {self.stack} has no ApiUrl output and the policy gives {self.environment} no url")

    def direct_url(self, track: str) -> str:
        preview = self._stack_outputs().get("PreviewUrl")
        if track != "candidate" or not preview:
            raise BayatError(f"no URL reaches the {track} version directly: the stack's PreviewUrl output serves "
                             "only the newest published version (the candidate)")
        return preview.rstrip("/")


def _response_status(path) -> int | None:
    """The statusCode of the function's API Gateway response, when the invoke wrote one."""
    try:
        body = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return body.get("statusCode") if isinstance(body, dict) else None


__all__ = ["ServerlessTarget", "health_event"]
