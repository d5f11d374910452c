"""Registry retention: which tags of an image repository may go, and deleting them by digest.

Rules (standard: maintain artifact retention policies; never lose a release):
* a stable release tag (X.Y.Z) is never deleted, nor are moving tags (latest, X, X.Y) or tags this tool
  did not make;
* pre-release and sha- tags are grouped by image (one build carries both) and by the branch that built
  it (label `io.bayat.branch`); per branch the newest `keep_prereleases` images stay (label
  `org.opencontainers.image.created`, else the image's own creation time), and so does any image
  younger than `keep_days` when that is set;
* an image also carrying a kept tag stays: deleting is by digest, and would take every tag with it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from bayat_deploy.building.tags import tag_kind
from bayat_deploy.policy.model.stages import Retention
from bayat_deploy.registry.client import RegistryClient

BRANCH_LABEL = "io.bayat.branch"
CREATED_LABEL = "org.opencontainers.image.created"
UNKNOWN_BRANCH = "(no branch label)"


@dataclass(frozen=True)
class TagInfo:
    tag: str
    digest: str
    branch: str
    created: datetime | None

    @property
    def kind(self) -> str:
        return tag_kind(self.tag)


@dataclass(frozen=True)
class Decision:
    tag: str
    digest: str
    delete: bool
    reason: str
    branch: str
    created: datetime | None

    def as_dict(self) -> dict:
        return {"tag": self.tag, "digest": self.digest, "action": "delete" if self.delete else "keep",
                "reason": self.reason, "branch": self.branch,
                "created": self.created.isoformat() if self.created else None}


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        # Docker writes nanoseconds (2024-05-01T10:00:00.123456789Z), more than fromisoformat reads before 3.11
        head, _, rest = text.partition(".")
        try:
            value = datetime.fromisoformat(head + ("+00:00" if rest.endswith("Z") else ""))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def inventory(client: RegistryClient, repository: str) -> list[TagInfo]:
    """Every tag of the repository with its digest, branch and creation time."""
    configs: dict[str, tuple[str, datetime | None]] = {}
    found = []
    for tag in sorted(client.tags(repository)):
        manifest = client.manifest(repository, tag)
        if manifest is None:  # deleted while we looked
            continue
        if manifest.digest not in configs:
            config = client.config(repository, manifest)
            labels = (config.get("config") or {}).get("Labels") or {}
            created = parse_time(labels.get(CREATED_LABEL)) or parse_time(config.get("created"))
            configs[manifest.digest] = (labels.get(BRANCH_LABEL) or UNKNOWN_BRANCH, created)
        branch, created = configs[manifest.digest]
        found.append(TagInfo(tag, manifest.digest, branch, created))
    return found


def plan(tags: list[TagInfo], retention: Retention, now: datetime | None = None) -> list[Decision]:
    """Keep or delete, with the reason, for every tag."""
    now = now or datetime.now(timezone.utc)
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    reasons: dict[str, str] = {}
    candidates = [t for t in tags if t.kind in ("prerelease", "sha")]
    for info in tags:
        if info.kind == "release":
            reasons[info.tag] = "released version: never deleted"
        elif info.kind == "moving":
            reasons[info.tag] = "moving tag (latest, X, X.Y): follows the releases"
        elif info.kind == "other":
            reasons[info.tag] = "not a version or sha- tag: not managed by retention"

    # An image that also carries a release (or other kept) tag stays anyway; it takes no pre-release slot.
    protected = {info.digest for info in tags if info.tag in reasons}
    images: dict[str, list[TagInfo]] = defaultdict(list)
    for info in candidates:
        if info.digest not in protected:
            images[info.digest].append(info)
    by_branch: dict[str, list[str]] = defaultdict(list)
    for digest, infos in images.items():
        by_branch[infos[0].branch].append(digest)
    for branch, digests in by_branch.items():
        digests.sort(key=lambda d: (images[d][0].created or oldest, d), reverse=True)
        for rank, digest in enumerate(digests, start=1):
            created = images[digest][0].created
            if rank <= retention.keep_prereleases:
                why = f"one of the {retention.keep_prereleases} newest pre-release images of branch {branch}"
            elif retention.keep_days is not None and created and now - created < timedelta(days=retention.keep_days):
                why = f"younger than {retention.keep_days} day(s)"
            else:
                continue
            for info in images[digest]:
                reasons[info.tag] = why

    kept_digests = {t.digest for t in tags if t.tag in reasons}
    decisions = []
    for info in tags:
        if info.tag in reasons:
            decisions.append(Decision(info.tag, info.digest, False, reasons[info.tag], info.branch, info.created))
        elif info.digest in kept_digests:
            also = sorted(t.tag for t in tags if t.digest == info.digest and t.tag in reasons)
            decisions.append(Decision(info.tag, info.digest, False, f"same image as kept tag(s) {', '.join(also)}",
                                      info.branch, info.created))
        else:
            rank_note = f"older than the {retention.keep_prereleases} newest pre-release images of branch {info.branch}"
            decisions.append(Decision(info.tag, info.digest, True, rank_note, info.branch, info.created))
    return decisions


def apply(client: RegistryClient, repository: str, decisions: list[Decision]) -> list[str]:
    """Delete the manifests of the doomed tags (each digest once); returns the deleted digests."""
    deleted = []
    for digest in dict.fromkeys(d.digest for d in decisions if d.delete):
        client.delete_manifest(repository, digest)
        deleted.append(digest)
    return deleted
