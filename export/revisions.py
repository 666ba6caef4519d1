"""Which annotation revision(s) a version freezes for a sample: the revision rules, as pure functions."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from storage.agreement import consensus
from export.errors import BadVersionSpec

RULES = ("latest", "consensus", "ground-truth")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Revision:
    """One stored annotation row, reduced to what the rules need."""

    id: int
    ls_annotation_id: int
    revision: int
    annotator: str | None
    updated_at: datetime | None
    was_cancelled: bool
    ground_truth: bool
    deleted: bool
    targets: list[dict[str, Any]] = field(default_factory=list)
    valid: bool = True  # False when the label stage found the result contradicts the label config


@dataclass(frozen=True)
class Frozen:
    """The outcome for one sample: targets and the revisions they come from, or why it was left out."""

    targets: list[dict[str, Any]] | None
    annotation_ids: list[int]
    annotators: list[str]
    skipped: str | None = None


def current_revisions(revisions: list[Revision]) -> list[Revision]:
    """The newest revision of every annotation unless deleted, cancelled, invalid or empty; oldest first.

    Deletion is read from the newest revision only, as the label stage does: an annotation deleted in
    Label Studio and later re-created there gets a new, live revision and counts again.
    """
    newest: dict[int, Revision] = {}
    for rev in revisions:
        known = newest.get(rev.ls_annotation_id)
        if known is None or rev.revision > known.revision:
            newest[rev.ls_annotation_id] = rev
    usable = [r for r in newest.values() if not r.deleted and not r.was_cancelled and r.valid and r.targets]
    return sorted(usable, key=lambda r: (r.updated_at or _EPOCH, r.ls_annotation_id))


def _one(rev: Revision) -> Frozen:
    return Frozen(list(rev.targets), [rev.id], [rev.annotator] if rev.annotator else [])


def freeze(revisions: list[Revision], rule: str) -> Frozen:
    """Apply `rule` to all stored revisions of one sample."""
    if rule not in RULES:
        raise BadVersionSpec(f"revision rule {rule!r} is unknown; expected one of {', '.join(RULES)}.")
    usable = current_revisions(revisions)
    if not usable:
        return Frozen(None, [], [], skipped="no usable annotation (none, cancelled, deleted, invalid or empty)")
    if rule == "latest" or len(usable) == 1:
        return _one(usable[-1])
    if rule == "ground-truth":
        truth = [r for r in usable if r.ground_truth]
        if not truth:
            return Frozen(None, [], [], skipped=f"no ground-truth annotation among {len(usable)}")
        return _one(truth[-1])
    merged = consensus({r.ls_annotation_id: r.targets for r in usable}).targets  # the label stage's rule
    annotators = sorted({r.annotator for r in usable if r.annotator})
    if not merged:
        return Frozen(None, [], [], skipped=f"no consensus among {len(usable)} annotations")
    return Frozen(merged, sorted(r.id for r in usable), annotators)
