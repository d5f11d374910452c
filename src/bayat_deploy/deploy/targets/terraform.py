"""Traditional hosting: blue and green instance groups behind a load balancer, managed with Terraform,
configured with Ansible (standard: Traditional Hosting).

Each track (stable, candidate, warm) occupies one colour. Every verb is one `terraform apply` of the
root module in the environment's workspace with a generated tfvars file that says, per colour, which
release runs there, on how many instances and with which share of the listener's traffic. The module
replaces what changes with `create_before_destroy`, so a colour's new instances exist before the old
ones go. After an apply that started instances, Ansible configures them with the release.

State lives in Terraform's state (the module echoes the two variables as the `bayat_deployment`
output), so a fresh CI runner reads it back with `terraform output -json`.

Verbs -> commands (through the command runner; `terraform -chdir=<target.directory>`):
  prepare  `terraform init -input=false`, `terraform workspace select -or-create <workspace>`
  launch   apply raising the candidate colour, then `ansible-playbook -i <inventory> <playbook>
           --extra-vars {"version", "deploy_environment", "colour", "artifact"}`
  health   `aws elbv2 describe-target-health --target-group-arn <the colour's group>`
  shift    apply with new weights;  promote / retire: apply with the old colour kept warm or scaled to 0
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

from bayat_deploy.deploy.access import target_env
from bayat_deploy.deploy.targets.base import Health, Instance, Release, State, Target, Track
from bayat_deploy.deploy.targets.commands import CommandRunner
from bayat_deploy.errors import BayatError
from bayat_deploy.fsutil import write_atomic

COLOURS = ("blue", "green")
WITHOUT_WORKSPACES = ("http",)


def empty_colour() -> dict:
    return {"version": "", "artifact": "", "instances": 0, "weight": 0, "track": "", "retire_after": ""}


class TerraformTarget(Target):
    kind = "terraform"

    def __init__(self, session, environment: str, runner: CommandRunner | None = None):
        policy = session.policy
        super().__init__(session, environment)
        self.runner = runner or CommandRunner(target_env(session, environment, TF_IN_AUTOMATION="1", TF_INPUT="0"))
        self.directory = policy.substitute(self.spec.directory, environment)
        self.workspace = policy.substitute(self.spec.workspace, environment)
        self.tfvars = self.state_dir / "bayat.tfvars.json"
        self.sleep = time.sleep
        self._outputs: dict | None = None

    # ----------------------------------------------------------------- plumbing
    def terraform(self, *args: str) -> list[str]:
        return ["terraform", f"-chdir={self.directory}", *args]

    def outputs(self) -> dict:
        if self._outputs is None:
            result = self.runner.check(self.terraform("output", "-json", "-no-color"), cwd=self.session.root,
                                       what=f"reading the state of {self.environment}")
            try:
                raw = json.loads(result.stdout or "{}")
            except json.JSONDecodeError:
                raise BayatError(f"terraform output -json answered something that is not JSON: "
                                 f"{result.stdout[:200]}") from None
            self._outputs = {name: item.get("value") for name, item in raw.items()}
        return self._outputs

    def colours(self) -> dict[str, dict]:
        deployment = self.outputs().get("bayat_deployment") or {}
        return {colour: {**empty_colour(), **(deployment.get(colour) or {})} for colour in COLOURS}

    def _colour_of(self, colours: dict[str, dict], track: str) -> str | None:
        return next((c for c in COLOURS if colours[c]["track"] == track and colours[c]["instances"] > 0), None)

    def apply(self, colours: dict[str, dict], what: str) -> None:
        """Write the tfvars and apply; the state is only believed changed when terraform says so."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        variables = {"environment": self.environment, **{c: colours[c] for c in COLOURS}}
        write_atomic(self.tfvars, json.dumps(variables, indent=2) + "\n")
        var_files = [f"-var-file={self.session.policy.substitute(f, self.environment)}" for f in self.spec.var_files]
        argv = self.terraform("apply", "-auto-approve", "-input=false", "-no-color", *var_files,
                              f"-var-file={self.tfvars}")
        self._outputs = None  # whatever happens, read the state back next time
        self.runner.check(argv, cwd=self.session.root, what=what)

    # ----------------------------------------------------------------- verbs
    def prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.runner.check(self.terraform("init", "-input=false", "-no-color"), cwd=self.session.root,
                          what=f"terraform init in {self.directory}")
        self._refuse_runner_local_state()
        # The http backend (GitLab-managed state) has no workspaces: its address names one state, set per
        # environment with TF_HTTP_ADDRESS / TF_HTTP_LOCK_ADDRESS (environment-scoped CI variables).
        if self.backend() not in WITHOUT_WORKSPACES:
            self.runner.check(self.terraform("workspace", "select", "-or-create", "-no-color", self.workspace),
                              cwd=self.session.root, what=f"selecting workspace {self.workspace}")
        self._outputs = None

    def backend(self) -> str:
        """The backend `terraform init` configured ("local" when the module declares none): init records a
        configured backend in .terraform/terraform.tfstate, and writes nothing there for the implicit local one."""
        settings = self.session.root / self.directory / ".terraform" / "terraform.tfstate"
        try:
            return (json.loads(settings.read_text()).get("backend") or {}).get("type") or "local"
        except FileNotFoundError:
            return "local"
        except (OSError, ValueError) as exc:
            raise BayatError(f"{settings}: cannot read what terraform init configured: {exc}") from None

    def _refuse_runner_local_state(self) -> None:
        """On a hosted runner a local tfstate (which colour serves which release) is gone after the job: the
        next deploy would start from nothing and create a second set of instances."""
        context = self.session.context
        if not context.in_ci or self.env.runner.persistent_on(context.platform):
            return
        if self.backend() == "local":
            raise BayatError(
                f"{self.directory} keeps its Terraform state on this {context.platform} runner, which is thrown "
                f"away after the job: declare a remote backend with locking in the module (e.g. `backend \"s3\"` "
                f"with use_lockfile, `backend \"gcs\"`, `backend \"azurerm\"`, `backend \"http\"` for GitLab-"
                f"managed state, or `cloud {{}}`), or run {self.environment}'s jobs on a self-hosted runner "
                f"(environments.{self.environment}.runner)")

    def current(self) -> State:
        state = State(self.environment)
        for colour, settings in self.colours().items():
            if not settings["track"] or settings["instances"] <= 0:
                continue
            release = Release(version=settings["version"], image=settings["artifact"])
            instances = [Instance(f"{colour}-{n}", colour, settings["version"]) for n in range(settings["instances"])]
            state.tracks[settings["track"]] = Track(settings["track"], release, instances, settings["weight"],
                                                    settings.get("retire_after") or "")
        return state

    def launch(self, release: Release, track: str, count: int) -> Track:
        colours = self.colours()
        colour = self._colour_of(colours, track)
        if colour and colours[colour]["version"] != release.version:
            raise BayatError(f"track {track} already runs {colours[colour]['version']}; abort or promote it first")
        if colour is None:
            colour = self._free_colour(colours, track)
            colours[colour] = {**empty_colour(), "version": release.version, "artifact": release.pinned,
                               "track": track}
        colours[colour]["instances"] += count
        self.apply(colours, f"starting {count} instance(s) of {release.version} on {colour}")
        self.configure(colour, release)
        return self.current().tracks[track]

    def _free_colour(self, colours: dict[str, dict], track: str) -> str:
        free = [c for c in COLOURS if colours[c]["instances"] <= 0]
        if free:
            return free[0]
        warm = self._colour_of(colours, "warm")
        if warm and track != "warm":
            return warm  # the new release takes the warm colour: its own previous version stays stable
        busy = ", ".join(f"{c}: {colours[c]['track']} {colours[c]['version']}" for c in COLOURS)
        raise BayatError(f"both colours are busy ({busy}); promote or abort the deployment in progress first")

    def configure(self, colour: str, release: Release) -> None:
        """The Ansible hand-off: configure the colour's instances with the release."""
        ansible = self.spec.ansible
        if ansible is None:
            return
        policy = self.session.policy
        extra = {"version": release.version, "deploy_environment": self.environment, "colour": colour,
                 "artifact": release.pinned}
        self.runner.check(["ansible-playbook", "-i", policy.substitute(ansible.inventory, self.environment),
                           policy.substitute(ansible.playbook, self.environment), "--extra-vars",
                           json.dumps(extra)], cwd=self.session.root,
                          what=f"configuring {release.version} on {colour} with Ansible")

    def health(self, track: str, timeout: float) -> Health:
        colours = self.colours()
        colour = self._colour_of(colours, track)
        if colour is None:
            return Health(False, f"no {track} track")
        arn = (self.outputs().get("target_group_arns") or {}).get(colour)
        if not arn:
            raise BayatError(f"the module in {self.directory} has no target_group_arns output for {colour}")
        wanted = colours[colour]["instances"]
        deadline = time.monotonic() + timeout
        while True:
            answer = self.runner.check(["aws", "elbv2", "describe-target-health", "--target-group-arn", arn,
                                        "--region", arn.split(":")[3], "--output", "json"],
                                       what=f"reading the target health of {colour}")
            targets = json.loads(answer.stdout or "{}").get("TargetHealthDescriptions", [])
            healthy = [t for t in targets if t["TargetHealth"]["State"] == "healthy"]
            if len(healthy) >= wanted:
                return Health(True, f"{len(healthy)} of {wanted} {colour} instance(s) healthy")
            if time.monotonic() > deadline:
                others = "; ".join(f"{t['Target']['Id']}: {t['TargetHealth']['State']}"
                                   f" ({t['TargetHealth'].get('Description') or t['TargetHealth'].get('Reason', '')})"
                                   for t in targets if t not in healthy)
                return Health(False, f"{len(healthy)} of {wanted} {colour} instance(s) healthy after {timeout:g}s"
                                     f"{': ' + others if others else ''}")
            self.sleep(5.0)

    def shift(self, weights: dict[str, int]) -> None:
        if sum(weights.values()) != 100:
            raise BayatError(f"traffic weights must add up to 100, got {weights}")
        colours = self.colours()
        tracks = {colours[c]["track"] for c in COLOURS if colours[c]["instances"] > 0}
        unknown = [t for t, w in weights.items() if w > 0 and t not in tracks]
        if unknown:
            raise BayatError(f"cannot route traffic to {', '.join(unknown)}: no such track")
        for colour in COLOURS:
            colours[colour]["weight"] = weights.get(colours[colour]["track"], 0) if colours[colour]["track"] else 0
        shown = ", ".join(f"{c} {colours[c]['weight']}%" for c in COLOURS)
        self.apply(colours, f"routing {shown}")

    def promote(self, track: str, *, keep_warm_for: float = 0.0) -> None:
        colours = self.colours()
        promoted = self._colour_of(colours, track)
        if promoted is None:
            raise BayatError(f"no {track} track to promote")
        for colour in COLOURS:
            if colour == promoted:
                colours[colour].update(track="stable", weight=100, retire_after="")
            elif colours[colour]["track"] == "stable" and keep_warm_for > 0:
                until = datetime.now(timezone.utc) + timedelta(seconds=keep_warm_for)
                colours[colour].update(track="warm", weight=0, retire_after=until.isoformat())
            else:
                colours[colour] = empty_colour()  # scaled to zero
        self.apply(colours, f"promoting {colours[promoted]['version']} on {promoted}")

    def retire(self, track: str, count: int | None = None) -> None:
        colours = self.colours()
        colour = self._colour_of(colours, track)
        if colour is None:
            return
        settings = colours[colour]
        if count is not None and count < settings["instances"]:
            settings["instances"] -= count
        elif settings["weight"] > 0:
            raise BayatError(f"track {track} still receives {settings['weight']}% of traffic; shift it away first")
        else:
            colours[colour] = empty_colour()
        self.apply(colours, f"retiring {count if count is not None else 'all'} {track} instance(s) on {colour}")


    def url(self) -> str:
        if self.env.url:
            return str(self.env.url).rstrip("/")
        url = self.outputs().get("url")
        if not url:
            raise BayatError(f"the module in {self.directory} has no url output and the policy gives "
                             f"{self.environment} no url")
        return url.rstrip("/")

    def direct_url(self, track: str) -> str:
        colour = self._colour_of(self.colours(), track)
        url = (self.outputs().get("test_urls") or {}).get(colour or "")
        if not url:
            raise BayatError(f"no test listener reaches the {track} track (the module's test_urls output)")
        return url.rstrip("/")
