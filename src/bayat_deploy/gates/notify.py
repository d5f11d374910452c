"""Notifications and alerts: one call, every route the policy names for the event, level and environment.

`send(session, event=..., level=..., environment=..., title=..., text=...)` builds one message (carrying
the runbook link, owning team, version, pipeline URL and who triggered the run), picks the routes
(`notifications.routes` filtered by `events`, `min_level` and the environment's `notify` list), lets the
aggregation decide what goes out now (see alerts_aggregation), and delivers each in turn. Delivery
failures are returned, never raised: a notification must not break the deployment it reports on.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bayat_deploy.gates.alerts_aggregation import AGGREGATED_EVENTS, LEVELS, AggregationState, Decision, iso
from bayat_deploy.gates.alerts_formats import Aggregation, Message
from bayat_deploy.policy.model.operations import EVENTS


@dataclass
class Delivery:
    route: str
    type: str
    status: str  # sent | failed | aggregated
    detail: str = ""
    attempts: int = 0
    occurrences: int = 1
    summary: bool = False

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict:
        return asdict(self)


def state_directory(session, environment: str) -> Path:
    """Beside the environment's deployment record; `.bayat/state/<env>` when there is no target state."""
    from bayat_deploy.errors import BayatError

    try:
        from bayat_deploy.deploy.targets.base import state_dir

        return state_dir(session, environment)
    except (BayatError, AttributeError, TypeError):  # no target state dir: still somewhere to count
        return session.root / ".bayat" / "state" / environment


def routes_for(policy, environment: str, event: str, level: str) -> list:
    allowed = policy.environment(environment).notify
    return [route for route in policy.notifications.routes
            if event in route.events and LEVELS.index(level) >= LEVELS.index(route.min_level)
            and (allowed is None or route.name in allowed)]


def incident_key(environment: str, event: str, details: dict | None) -> str:
    metric = (details or {}).get("metric")
    return "/".join(str(part) for part in (environment, event, metric) if part)


def message_for(session, *, event: str, level: str, environment: str, title: str, text: str,
                details: dict | None = None, version: str | None = None, at: float | None = None) -> Message:
    import json

    policy, context = session.policy, session.context
    details = json.loads(json.dumps(details or {}, default=str))  # what every format can carry
    return Message(event=event, level=level, project=policy.project, environment=environment, title=title,
                   text=text, version=version or "", team=policy.team,
                   runbook=str(policy.runbook) if policy.runbook else "", pipeline_url=context.pipeline_url,
                   triggered_by=context.actor, commit=context.sha, at=iso(time.time() if at is None else at),
                   details=details)


def send(session, *, event: str, level: str, environment: str, title: str, text: str,
         details: dict | None = None, version: str | None = None, key: str | None = None,
         now: float | None = None) -> list[Delivery]:
    """Notify every matching route; returns one Delivery per route (sent, failed or aggregated)."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}; one of {', '.join(EVENTS)}")
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; one of {', '.join(LEVELS)}")
    now = time.time() if now is None else now
    policy = session.policy
    message = message_for(session, event=event, level=level, environment=environment, title=title, text=text,
                          details=details, version=version, at=now)
    routes = routes_for(policy, environment, event, level)
    try:
        deliveries = flush(session, environment, now=now)
    except OSError:  # the aggregation state cannot be read: its summaries wait for the next notification
        deliveries = []
    if event not in AGGREGATED_EVENTS:
        return deliveries + [deliver(session, route, message) for route in routes]
    state = AggregationState(state_directory(session, environment), policy.notifications.aggregate_window.seconds)
    key = key or incident_key(environment, event, details)
    stored = {k: v for k, v in asdict(message).items() if k != "aggregation"}
    for route in routes:
        try:
            decision = state.claim(key, route.name, level, now, stored)
        except OSError as exc:  # an unusable state file must not silence an alert: send it unaggregated
            decision = Decision(True, Aggregation(key, 1, message.at, message.at, state.window),
                                f"not aggregated: {exc.strerror or exc}")
        if not decision.send:
            deliveries.append(Delivery(route.name, route.type, "aggregated", decision.reason,
                                       occurrences=decision.aggregation.occurrences))
            continue
        message.aggregation = decision.aggregation
        delivery = deliver(session, route, message)
        if decision.reason and not delivery.failed:
            delivery.detail = f"{delivery.detail} ({decision.reason})"
        try:
            state.settle(key, route.name, not delivery.failed, now)
        except OSError:
            pass  # the failure is reported in the Delivery; only the retry bookkeeping is lost
        deliveries.append(delivery)
    return deliveries


def flush(session, environment: str, *, now: float | None = None, force: bool = False) -> list[Delivery]:
    """Send the summaries of aggregation windows that have closed (every pending one with `force`)."""
    policy = session.policy
    now = time.time() if now is None else now
    directory = state_directory(session, environment)
    if not (directory / "notifications.json").exists():
        return []
    state = AggregationState(directory, policy.notifications.aggregate_window.seconds)
    routes = {route.name: route for route in policy.notifications.routes}
    order = list(routes)
    deliveries = []
    due = state.due_summaries(now, force=force)
    for summary in sorted(due, key=lambda s: (s.key, order.index(s.route) if s.route in order else len(order))):
        route = routes.get(summary.route)
        if route is None:  # the route was removed from the policy since
            continue
        fields = dict(summary.message)
        fields.update(at=iso(now), title=f"Repeated: {fields['title']}",
                      text=f"{fields['text']}\n\n{summary.aggregation.sentence()}")
        message = Message(**fields, aggregation=summary.aggregation)
        deliveries.append(deliver(session, route, message))
    return deliveries


def deliver(session, route, message: Message) -> Delivery:
    """One message on one route; any failure becomes a failed Delivery with a secret-free reason."""
    from bayat_deploy.gates import alerts_formats as formats
    from bayat_deploy.gates import alerts_transport as transport
    from bayat_deploy.policy.types import SecretRef
    from bayat_deploy.secrets import resolve

    aggregation = message.aggregation or Aggregation("", 1, message.at, message.at, 0)
    done = Delivery(route.name, route.type, "sent", occurrences=aggregation.occurrences,
                    summary=aggregation.summary)
    secrets: tuple[str, ...] = ()
    try:
        if route.type == "email":
            smtp = route.smtp
            what = f"notifications route {route.name}"
            username = resolve(smtp.username, session.context, what=f"{what}: smtp.username")
            password = resolve(smtp.password, session.context, what=f"{what}: smtp.password")
            secrets = (password or "",)
            mail = formats.email(message, sender=smtp.sender, recipients=route.to)
            result = transport.send_mail(mail, host=smtp.host, port=smtp.port, starttls=smtp.starttls,
                                         username=username, password=password)
        else:
            url = route.url
            if isinstance(url, SecretRef):
                value = resolve(url, session.context, what=f"notifications route {route.name}: url")
                if not value:
                    return _failed(done, f"{url} is not set, so there is nowhere to send to")
                url = value
            url = str(url)
            secrets = (url,)
            payload = {"webhook": formats.generic, "slack": formats.slack, "teams": formats.teams}[route.type](message)
            result = transport.post_json(url, payload)
    except Exception as exc:  # noqa: BLE001 - a notification never crashes the deployment it reports on
        return _failed(done, transport.scrub(f"{type(exc).__name__}: {exc}", secrets))
    done.attempts, done.detail = result.attempts, result.detail
    if not result.ok:
        done.status = "failed"
    return done


def _failed(delivery: Delivery, detail: str) -> Delivery:
    delivery.status, delivery.detail = "failed", detail
    return delivery
