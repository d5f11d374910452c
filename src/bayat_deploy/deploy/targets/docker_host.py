"""Docker host target: containers from the published image, traffic through a router on the same host
(`router:` haproxy, whose weights change at runtime, or nginx, which reloads; deploy/targets/routing.py).

State (which containers form which track, the traffic split, the router generation) is kept as
`state.json` in the environment's state store. A traffic change is written ahead: the new split goes in
as `pending` (with its generation) before the router takes it, and becomes the state once the router
answers with that generation. A process killed in between leaves the pending split; `reconcile` asks the
router which generation serves and keeps whichever is true. It also stops containers of the environment
that the state does not list (started by an attempt that died before recording them): never adopted.

A change that routes exactly as the router routes now is not sent to it at all. The router, the engine
and the state are all on the host: the job runs there on the host's self-hosted runner (`runner:`, by
default labelled after the environment), so the store is the host's state directory.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta, timezone

from bayat_deploy.deploy.targets.base import Health, Instance, Release, State, Target, Track
from bayat_deploy.deploy.targets.routing import RouterError, router_for, upstream_weights
from bayat_deploy.errors import BadInput, BayatError
from bayat_deploy.fsutil import write_atomic

DEFAULT_PORTS = {"development": 8081, "testing": 8082, "staging": 8083, "production": 8084}
LABEL = "io.bayat"


class DockerHostTarget(Target):
    kind = "docker-host"

    def __init__(self, session, environment: str):
        super().__init__(session, environment)
        port = self.spec.port or DEFAULT_PORTS.get(self.env.tier if environment not in DEFAULT_PORTS
                                                   else environment, 8090)
        from bayat_deploy.deploy.failpoints import Failpoints

        self.failpoint = Failpoints.of(session.context)  # tests kill the process at these (deploy/failpoints.py)
        self.router = router_for(self.spec.router, self.state_dir, project=session.policy.project,
                                 environment=environment, listen=self.spec.listen, port=port,
                                 failpoint=self.failpoint)
        self._docker = None

    # ----------------------------------------------------------------- plumbing
    @property
    def docker(self):
        if self._docker is None:
            from bayat_deploy.dockerclient import docker_client

            self._refuse_remote_engine()
            self._docker = docker_client(self.session.context, self.spec.docker_host)
        return self._docker

    def _data(self) -> dict:
        text = self.store.read("state.json")
        return json.loads(text) if text else {}

    @staticmethod
    def _tracks(data: dict) -> dict[str, Track]:
        return {name: Track(name, Release(**t["release"]), [Instance(**i) for i in t["instances"]], t["weight"],
                            t.get("retire_after", "")) for name, t in data.get("tracks", {}).items()}

    def _load(self) -> tuple[State, int]:
        data = self._data()
        return State(self.environment, self._tracks(data)), data.get("generation", 0)

    def _save(self, state: State, generation: int, *, routed: list | None = None, pending: dict | None = None) -> None:
        data = {"environment": self.environment, "generation": generation,
                "routed": self._data().get("routed", []) if routed is None else routed,
                "tracks": {name: asdict(track) for name, track in state.tracks.items()}}
        if pending:
            data["pending"] = pending
        self.store.write("state.json", json.dumps(data, indent=2) + "\n")
        if not pending:
            self._write_scrape_targets(state)

    def _write_scrape_targets(self, state: State) -> None:
        """Prometheus file_sd targets: every instance, labelled with its track and version."""
        job = self.session.policy.substitute(
            self.session.policy.monitoring.job if self.session.policy.monitoring else "{project}-{environment}",
            self.environment)
        groups = [{"targets": [i.address for i in track.instances],
                   "labels": {"job": job, "track": "canary" if name == "candidate" else name,
                              "version": track.release.version, "environment": self.environment}}
                  for name, track in state.tracks.items() if track.instances]
        write_atomic(self.state_dir / "prometheus" / "targets.json", json.dumps(groups, indent=2) + "\n")

    def _route(self, state: State, generation: int) -> int:
        servers = self._servers(state)
        routed = [[s.address, s.weight] for s in servers]
        data = self._data()
        if routed == data.get("routed") and self.router.running():
            self._save(state, generation, routed=routed)  # the router routes this way already
            return generation
        committed = State(self.environment, self._tracks(data))
        generation += 1
        live = data.get("routed", [])
        self._save(committed, generation - 1, routed=live, pending={"generation": generation, "routed": routed,
                                                       "tracks": {n: asdict(t) for n, t in state.tracks.items()}})
        try:
            self.router.apply(servers, generation)
        except RouterError:
            self._save(committed, generation - 1, routed=live)  # the change never served: drop it
            raise
        self.failpoint("router-reloaded")
        self._save(state, generation, routed=routed)
        return generation

    def _servers(self, state: State):
        return upstream_weights({name: (t.weight, [(i.address, t.release.version) for i in t.instances])
                                 for name, t in state.tracks.items()})

    def reconcile(self) -> list[str]:
        """Make the state true to what serves (the router's live generation, the containers by label), after a
        command that died half-way; returns each repair in words (nothing: the state was true)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = self._data()
        repairs: list[str] = []
        pending = data.get("pending")
        state, generation = self._load()
        if pending:
            live = self.router.live_generation()
            if live == pending["generation"]:
                state = State(self.environment, self._tracks(pending))
                generation = pending["generation"]
                self._save(state, generation, routed=pending["routed"])
                repairs.append(f"the router serves generation {generation}, which the interrupted command had not "
                               f"recorded: recorded it ({self._split(state)})")
            else:
                self._save(state, generation)
                if state.tracks and live is not None:
                    self.router.rewrite(self._servers(state), generation)
                repairs.append(f"a traffic change (generation {pending['generation']}) never reached the router: dropped "
                               f"it; the router serves generation {generation} ({self._split(state) or 'nothing'})")
        running = self._containers()
        listed = {i.id for track in state.tracks.values() for i in track.instances}
        for container in running:
            if container.id not in listed:
                version = container.labels.get(f"{LABEL}.version", "?")
                self._remove(container)
                repairs.append(f"stopped {container.name} ({version}): an interrupted command started it and "
                               "never recorded it")
        alive = {c.id for c in running}
        for name, track in list(state.tracks.items()):
            gone = [i for i in track.instances if i.id not in alive]
            if not gone or track.weight:
                continue  # an instance that serves and is gone is the health checks' business, not a repair
            track.instances = [i for i in track.instances if i.id in alive]
            if not track.instances:
                del state.tracks[name]
            self._save(state, generation)
            repairs.append(f"{len(gone)} instance(s) of {track.release.version} on {name} were stopped without "
                           "being recorded: dropped them from the state")
        return repairs

    def _split(self, state: State) -> str:
        return ", ".join(f"{t.release.version} {t.weight}%" for t in state.tracks.values() if t.weight)

    def _containers(self) -> list:
        filters = {"label": [f"{LABEL}.project={self.session.policy.project}",
                             f"{LABEL}.environment={self.environment}", f"{LABEL}.managed-by=bayat-deploy"]}
        return self.docker.containers.list(all=True, filters=filters)

    @staticmethod
    def _remove(container) -> None:
        import docker

        try:
            container.stop(timeout=15)
            container.remove()
        except docker.errors.NotFound:
            pass

    # ----------------------------------------------------------------- verbs
    def _refuse_remote_engine(self) -> None:
        from bayat_deploy.policy.rules import LOCAL_ENGINE

        engine = self.spec.docker_host or self.session.context.get("DOCKER_HOST")
        if engine and not LOCAL_ENGINE.match(engine):  # the policy rule sees only target.docker_host
            raise BayatError(f"DOCKER_HOST={engine} is a remote engine, but the router and the deployment record of "
                             f"{self.environment} are on this machine, out of reach of its containers: run the "
                             "job on the Docker host itself (a self-hosted runner there) with the local engine")

    def prepare(self) -> None:
        self._refuse_remote_engine()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state, generation = self._load()
        if state.tracks and not self.router.running():
            # the host rebooted or the router was stopped: bring the router back with the last known split
            self._route(state, generation)

    def current(self) -> State:
        return self._load()[0]

    def url(self) -> str:
        return self.router.url

    def direct_url(self, track: str) -> str:
        instances = self._load()[0].tracks[track].instances
        return f"http://{instances[0].address}"

    def launch(self, release: Release, track: str, count: int) -> Track:
        state, generation = self._load()
        existing = state.tracks.get(track)
        if existing and existing.release.version != release.version:
            raise BayatError(f"track {track} already runs {existing.release.version}; abort or promote it first")
        self._ensure_image(release)
        app_env = self._app_env()  # a missing secret stops the launch before any container starts
        current = existing or Track(track, release)
        known = len(current.instances)
        if count > 1:  # containers start in parallel: a rollback that restarts an old version is that much faster
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(count, 8)) as pool:
                current.instances += list(pool.map(lambda _: self._start(release, track, app_env), range(count)))
        else:
            current.instances += [self._start(release, track, app_env) for _ in range(count)]
        self.failpoint("instances-started")
        started = current.instances[known:]
        state.tracks[track] = current
        try:
            self._save(state, generation)
        except OSError:  # unrecorded, they would be strays: nothing routes to them yet, so they stop now
            self._stop_after_drain(started)
            raise
        return current

    def health(self, track: str, timeout: float) -> Health:
        import requests

        state, _ = self._load()
        deadline = time.monotonic() + timeout
        pending = list(state.tracks[track].instances)
        while pending:
            instance = pending[0]
            container = self.docker.containers.get(instance.id)
            if container.status in ("exited", "dead"):
                tail = container.logs(tail=15).decode(errors="replace").strip()
                return Health(False, f"{instance.id[:12]} ({instance.version}) exited with "
                                     f"{container.attrs['State'].get('ExitCode')}: {tail}")
            try:
                answer = requests.get(f"http://{instance.address}{self.spec.health_path}", timeout=2)
                if answer.status_code == 200:
                    pending.pop(0)
                    continue
                detail = f"{self.spec.health_path} answered {answer.status_code}"
            except requests.RequestException as exc:
                detail = f"{self.spec.health_path} unreachable: {type(exc).__name__}"
            if time.monotonic() > deadline:
                return Health(False, f"{instance.id[:12]} ({instance.version}) not healthy after {timeout:g}s: "
                                     f"{detail}")
            time.sleep(0.2)
            container.reload()
        return Health(True, f"{len(state.tracks[track].instances)} instance(s) healthy")

    def shift(self, weights: dict[str, int]) -> None:
        if sum(weights.values()) != 100:
            raise BayatError(f"traffic weights must add up to 100, got {weights}")
        state, generation = self._load()
        for name, track in state.tracks.items():
            track.weight = weights.get(name, 0)
        self._route(state, generation)

    def promote(self, track: str, *, keep_warm_for: float = 0.0) -> None:
        state, generation = self._load()
        promoted = state.tracks.pop(track)
        old = state.tracks.pop("stable", None)
        previous_warm = state.tracks.pop("warm", None)
        promoted.name, promoted.weight = "stable", 100
        state.tracks["stable"] = promoted
        retire = [previous_warm] if previous_warm else []
        if old and keep_warm_for > 0:
            old.name, old.weight = "warm", 0
            old.retire_after = (datetime.now(timezone.utc) + timedelta(seconds=keep_warm_for)).isoformat()
            state.tracks["warm"] = old
        elif old:
            retire.append(old)
        self._route(state, generation)
        self._stop_after_drain([i for t in retire for i in t.instances])

    def retire(self, track: str, count: int | None = None) -> None:
        state, generation = self._load()
        current = state.tracks.get(track)
        if current is None:
            return
        if current.weight > 0 and (count is None or count >= len(current.instances)):
            raise BayatError(f"track {track} still receives {current.weight}% of traffic; shift it away first")
        count = len(current.instances) if count is None else min(count, len(current.instances))
        leaving, current.instances = current.instances[:count], current.instances[count:]
        if not current.instances:
            del state.tracks[track]
        try:
            if any(t.weight for t in state.tracks.values()):
                try:
                    self._route(state, generation)  # the leaving instances stop receiving traffic first
                except RouterError:
                    if current.weight > 0:
                        raise  # they may still receive traffic: stopping them now would drop requests
                    self._save(state, generation)  # the live configuration never routed to them
            else:
                self._save(state, generation)
        except OSError:
            # the state cannot be written (a full disk): instances the router does not route to are stopped all the
            # same, and the next command drops them from the state (reconcile)
            routed = {address for address, _weight in self._data().get("routed", [])}
            self._stop_after_drain([i for i in leaving if i.address not in routed])
            raise
        self.failpoint("instances-unrouted")
        self._stop_after_drain(leaving)


    def remove(self) -> None:
        state, generation = self._load()
        self.router.stop()
        self._stop_after_drain([i for track in state.tracks.values() for i in track.instances])
        self._save(State(self.environment), generation)

    def logs(self, track: str, lines: int = 200) -> str:
        track_state = self.current().tracks.get(track)
        if not track_state:
            return ""
        return "\n".join(self.docker.containers.get(i.id).logs(tail=lines).decode(errors="replace")
                         for i in track_state.instances)

    # ----------------------------------------------------------------- containers
    def _ensure_image(self, release: Release) -> None:
        import docker

        from bayat_deploy.deploy.release import registry_auth

        try:
            self.docker.images.get(release.pinned)
            return
        except docker.errors.ImageNotFound:
            pass
        except docker.errors.APIError:
            pass
        try:
            repository, tag = release.pinned.rsplit("@", 1) if "@" in release.pinned else release.image.rsplit(":", 1)
            self.docker.images.pull(repository, tag=tag, auth_config=registry_auth(self.session, release.image))
        except docker.errors.NotFound:
            raise BadInput(f"version {release.version} was never published: {release.image} is not in the "
                           "registry") from None
        except docker.errors.APIError as exc:
            raise BayatError(f"cannot pull {release.pinned}: {exc.explanation or exc}") from None

    def _app_env(self) -> dict[str, str]:
        """`target.env` for the containers, references (`env:DATABASE_URL`) resolved in this job."""
        from bayat_deploy.policy.types import secret_reference
        from bayat_deploy.secrets import resolve

        env = {}
        for key, value in self.spec.env.items():
            ref = secret_reference(value)
            if ref is None:
                env[key] = value
                continue
            what = f"environments.{self.environment}.target.env.{key}"
            resolved = resolve(ref, self.session.context, what=what)
            if resolved is None:
                raise BadInput(f"{what}: {ref.dump()} is not set in this job's environment (a CI secret the "
                               "deploy job must be given; generate-pipeline passes it)")
            env[key] = resolved
        return env

    def _start(self, release: Release, track: str, app_env: dict[str, str]) -> Instance:
        import docker

        resources = self.env.resources
        labels = {f"{LABEL}.project": self.session.policy.project, f"{LABEL}.environment": self.environment,
                  f"{LABEL}.version": release.version, f"{LABEL}.managed-by": "bayat-deploy"}
        env = {**app_env, **release.env, "APP_VERSION": release.version,
               "APP_ENVIRONMENT": self.environment}
        name = f"bayat-{self.session.policy.project}-{self.environment}-{uuid.uuid4().hex[:10]}"
        try:
            container = self.docker.containers.run(
                release.pinned, detach=True, name=name, labels=labels, environment=env,
                # instances are reachable only from this host: the router is the one way in
                ports={f"{self.spec.container_port}/tcp": ("127.0.0.1", None)},
                read_only=True, tmpfs={"/tmp": "rw,size=64m"}, security_opt=["no-new-privileges"],
                cap_drop=["ALL"], mem_limit=_bytes(str(resources.memory_limit)),
                nano_cpus=int(_cpus(str(resources.cpu_limit)) * 1e9), restart_policy={"Name": "no"},
                log_config={"type": "json-file", "config": {"max-size": "10m", "max-file": "3"}})
        except docker.errors.APIError as exc:
            raise BayatError(f"cannot start {release.pinned}: {exc.explanation or exc}") from None
        deadline = time.monotonic() + 10
        while True:
            container.reload()
            binding = (container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{self.spec.container_port}/tcp")
            if binding:
                return Instance(container.id, f"127.0.0.1:{binding[0]['HostPort']}", release.version)
            if container.status in ("exited", "dead") or time.monotonic() > deadline:
                # no port: the health check reports the exit code and the container's last log lines
                return Instance(container.id, "127.0.0.1:0", release.version)
            time.sleep(0.05)

    def _stop_after_drain(self, instances: list[Instance]) -> None:
        import docker

        if not instances:
            return
        self.router.wait_for_old_workers()
        for instance in instances:
            try:
                container = self.docker.containers.get(instance.id)
            except docker.errors.NotFound:
                continue
            self._remove(container)


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(float(quantity[: -len(suffix)]) * factor)
    return int(float(quantity))


def _cpus(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


