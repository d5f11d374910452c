"""What a notification says, and how it is written for each kind of route.

One `Message` is rendered four ways:

* **webhook** - our own JSON document, versioned by `schema` (`bayat-deploy/notification/v1`):

  | field | meaning |
  |---|---|
  | `schema` | `bayat-deploy/notification/v1`; a reader checks it before trusting the rest |
  | `event` | deploy-started, deploy-succeeded, deploy-failed, rollback, maintenance, alert, release-notes |
  | `level` | info, warning or critical |
  | `project`, `environment`, `version` | what the message is about (`version` may be empty) |
  | `title`, `text` | one line, and the explanation in plain text |
  | `team`, `runbook` | the owning team and the runbook link from the policy (empty when the policy has none) |
  | `pipeline_url`, `triggered_by`, `commit` | the run that sent it |
  | `at` | when it was sent, ISO 8601 UTC |
  | `aggregation` | `null`, or `{key, occurrences, first, last, window_seconds, summary}`: the same incident seen |
  |  | `occurrences` times between `first` and `last`; `summary` is true for the message sent when the window closed |
  | `details` | free-form key/values of the sender (a metric's before/after values, a reason...) |

* **slack** - an incoming-webhook body: `text` (the notification fallback) and Block Kit `blocks`.
* **teams** - an Adaptive Card (1.4) wrapped in a `message` with one attachment; this is the body both the legacy
  Incoming Webhook connector and its replacement, a Workflows "When a Teams webhook request is received" flow,
  accept (Workflows do not accept the older MessageCard format).
* **email** - a multipart/alternative message: plain text and HTML, the runbook link and team in both.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

SCHEMA = "bayat-deploy/notification/v1"
LEVEL_MARK = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}
TEAMS_COLOR = {"info": "Default", "warning": "Warning", "critical": "Attention"}


@dataclass
class Aggregation:
    """How many times one incident (one key) was seen in the aggregation window."""

    key: str
    occurrences: int
    first: str
    last: str
    window_seconds: float
    summary: bool = False

    def sentence(self) -> str:
        if self.summary:
            return (f"{self.occurrences} occurrences between {self.first} and {self.last} "
                    f"(aggregated over {self.window_seconds:g}s; the first was reported when it happened)")
        if self.occurrences > 1:
            return f"{self.occurrences} occurrences between {self.first} and {self.last}"
        return ""


@dataclass
class Message:
    event: str
    level: str
    project: str
    environment: str
    title: str
    text: str
    version: str = ""
    team: str = ""
    runbook: str = ""
    pipeline_url: str = ""
    triggered_by: str = ""
    commit: str = ""
    at: str = ""
    details: dict = field(default_factory=dict)
    aggregation: Aggregation | None = None

    @property
    def headline(self) -> str:
        count = ""
        if self.aggregation and self.aggregation.occurrences > 1:
            count = f" ({self.aggregation.occurrences}x)"
        return f"[{self.level.upper()}] {self.project} {self.environment}: {self.title}{count}"

    def facts(self) -> list[tuple[str, str]]:
        """The labelled facts every format shows, in one order."""
        rows = [("Level", self.level), ("Event", self.event), ("Environment", self.environment),
                ("Version", self.version or "-"), ("Team", self.team or "-"),
                ("Triggered by", self.triggered_by or "-")]
        if self.commit:
            rows.append(("Commit", self.commit[:12]))
        return rows

    def detail_lines(self) -> list[str]:
        return [f"{key}: {_scalar(value)}" for key, value in self.details.items()]


def _scalar(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# ---------------------------------------------------------------------------------------------- generic
def generic(message: Message) -> dict:
    document = {"schema": SCHEMA, **asdict(message)}
    document["aggregation"] = asdict(message.aggregation) if message.aggregation else None
    return document


# ---------------------------------------------------------------------------------------------- slack
def _mrkdwn(text: str) -> str:
    # Slack's three control characters; everything else is literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(message: Message) -> dict:
    """Incoming-webhook body: `text` is what notifications show, `blocks` what the channel shows."""
    blocks: list[dict] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": _cut(f"{LEVEL_MARK[message.level]} {message.title}", 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(_mrkdwn(message.text or message.title), 3000)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{_mrkdwn(value)}"}
                                       for name, value in message.facts()][:10]},
    ]
    if message.details:
        lines = "\n".join(_mrkdwn(line) for line in message.detail_lines())
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"```{lines}```", 3000)}})
    links = [f"<{url}|{name}>" for name, url in (("Runbook", message.runbook), ("Pipeline", message.pipeline_url))
             if url]
    context = [f"Owning team: *{_mrkdwn(message.team or 'not set')}*", *links]
    if message.aggregation and message.aggregation.sentence():
        context.append(_mrkdwn(message.aggregation.sentence()))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(item, 3000)}
                                                   for item in context][:10]})
    return {"text": _cut(message.headline, 3000), "blocks": blocks}


# ---------------------------------------------------------------------------------------------- teams
def teams(message: Message) -> dict:
    body: list[dict] = [
        {"type": "TextBlock", "size": "Large", "weight": "Bolder", "wrap": True,
         "color": TEAMS_COLOR[message.level], "text": message.headline},
        {"type": "TextBlock", "wrap": True, "text": message.text or message.title},
        {"type": "FactSet", "facts": [{"title": name, "value": value} for name, value in message.facts()]},
    ]
    if message.details:
        body.append({"type": "FactSet", "facts": [{"title": str(key), "value": _scalar(value)}
                                                  for key, value in message.details.items()]})
    if message.aggregation and message.aggregation.sentence():
        body.append({"type": "TextBlock", "wrap": True, "isSubtle": True, "text": message.aggregation.sentence()})
    actions = [{"type": "Action.OpenUrl", "title": name, "url": url}
               for name, url in (("Runbook", message.runbook), ("Pipeline", message.pipeline_url)) if url]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "msteams": {"width": "Full"}, "body": body}
    if actions:
        card["actions"] = actions
    return {"type": "message",
            "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
                             "content": card}]}


# ---------------------------------------------------------------------------------------------- e-mail
def email(message: Message, *, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.headline
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.partition("@")[2] or None)
    mail["X-Bayat-Event"] = message.event
    mail["X-Bayat-Level"] = message.level
    aggregation = message.aggregation.sentence() if message.aggregation else ""
    plain = [message.headline, "", message.text or message.title, ""]
    plain += [f"{name}: {value}" for name, value in message.facts()]
    plain += [f"Runbook: {message.runbook or 'not set in the policy'}",
              f"Pipeline: {message.pipeline_url or 'run locally'}"]
    if aggregation:
        plain += ["", aggregation]
    if message.details:
        plain += ["", "Details:", *(f"  {line}" for line in message.detail_lines())]
    mail.set_content("\n".join(plain) + "\n")

    def link(url: str, fallback: str) -> str:
        return f'<a href="{html.escape(url)}">{html.escape(url)}</a>' if url else html.escape(fallback)

    rows = "".join(f"<tr><th align=\"left\">{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
                   for name, value in message.facts())
    rows += f"<tr><th align=\"left\">Runbook</th><td>{link(message.runbook, 'not set in the policy')}</td></tr>"
    rows += f"<tr><th align=\"left\">Pipeline</th><td>{link(message.pipeline_url, 'run locally')}</td></tr>"
    details = "".join(f"<li>{html.escape(line)}</li>" for line in message.detail_lines())
    mail.add_alternative(
        "<!DOCTYPE html><html><body>"
        f"<h2>{html.escape(message.headline)}</h2>"
        f"<p>{html.escape(message.text or message.title)}</p>"
        f"<table>{rows}</table>"
        + (f"<p><em>{html.escape(aggregation)}</em></p>" if aggregation else "")
        + (f"<h3>Details</h3><ul>{details}</ul>" if details else "")
        + "</body></html>\n", subtype="html")
    return mail
