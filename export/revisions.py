"""Which annotation revision(s) a version freezes for a sample: the revision rules, as pure functions.

A sample enters a version only when every object on it has a decided label under the rule; otherwise
it is held out as *needs review* with the reasons (and `harvest label review` sends it to a reviewer).
"Current" annotations are the newest revision of each Label Studio annotation that is not deleted,
cancelled, invalid or empty. An annotation with regions the label stage could not read (kept raw, with the reason) holds the sample
out too, unless a ground-truth annotation decides it. Under every rule a current ground-truth annotation (a reviewer's, e.g. from
`harvest label review`) is the sample's truth; the newest one wins. Without one:

- ``latest``: the most recently updated current annotation, provided no other current annotation has an
  object (a box of the same label at IoU >= 0.5, a choice label, any polygon/keypoints/mask/span) it lacks;
  if one does, the sample needs review (someone drew an object the chosen annotation leaves unlabeled).
- ``consensus``: with one annotation, that one; with several, the majority merge (choices by vote, boxes
  by IoU clusters, averaged). Every box some annotator drew must be drawn by a strict majority (more than
  half of the annotations): a box drawn by 1 of 2 or 1 of 3, or boxes of different labels or too little
  overlap to cluster, make the sample need review. A choice label is kept with a strict majority, dropped
  when a strict majority left it out, and needs review on a tie (1 of 2). Polygons, keypoints, masks and
  spans have no merge rule: they must be identical in every annotation, or the sample needs review.
- ``ground-truth``: only samples with a ground-truth annotation, or with a single current annotation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from storage.agreement import consensus, match
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
    review: list[str] = field(default_factory=list)  # why the sample needs review (it is then held out)


NEEDS_REVIEW = "needs review (annotators disagree)"


def current_revisions(revisions: list[Revision], keep_empty: bool = False) -> list[Revision]:
    """The newest revision of every annotation unless deleted, cancelled, invalid or (unless ``keep_empty``)
    empty; oldest first. The rules keep empty ones: "nothing here" disagrees with an annotation that has a box.

    Deletion is read from the newest revision only, as the label stage does: an annotation deleted in
    Label Studio and later re-created there gets a new, live revision and counts again.
    """
    newest: dict[int, Revision] = {}
    for rev in revisions:
        known = newest.get(rev.ls_annotation_id)
        if known is None or rev.revision > known.revision:
            newest[rev.ls_annotation_id] = rev
    usable = [r for r in newest.values() if not r.deleted and not r.was_cancelled and r.valid and (r.targets or keep_empty)]
    return sorted(usable, key=lambda r: (r.updated_at or _EPOCH, r.ls_annotation_id))


def _one(rev: Revision) -> Frozen:
    return Frozen(list(rev.targets), [rev.id], [rev.annotator] if rev.annotator else [])


def freeze(revisions: list[Revision], rule: str) -> Frozen:
    """Apply `rule` to all stored revisions of one sample."""
    if rule not in RULES:
        raise BadVersionSpec(f"revision rule {rule!r} is unknown; expected one of {', '.join(RULES)}.")
    unread = _unread(revisions)
    usable = current_revisions(revisions, keep_empty=True)
    if unread and not any(r.ground_truth for r in usable):  # an object may hide in a region harvest could not read
        return _held([f"annotation {r.ls_annotation_id} ({r.annotator or 'unknown'}): has regions harvest could not "
                      "read (unknown label, bad size...; `harvest label pull` lists them; a project label map "
                      "renames labels)" for r in unread], usable)
    if not any(r.targets for r in usable):
        return Frozen(None, [], [], skipped="no usable annotation (none, cancelled, deleted, invalid or empty)")
    truth = [r for r in usable if r.ground_truth]
    if truth:
        return _one(truth[-1])
    if rule == "ground-truth" and len(usable) > 1:
        return Frozen(None, [], [], skipped=f"no ground-truth annotation among {len(usable)}")
    if len(usable) == 1:
        return _one(usable[0])
    if rule == "latest":
        chosen = usable[-1]
        missing = [f"annotation {r.ls_annotation_id} ({r.annotator or 'unknown'}): {what}"
                   for r in usable[:-1] for what in lacks(chosen.targets, r.targets)]
        return _one(chosen) if not missing else _held(missing, usable)
    result = consensus({r.ls_annotation_id: r.targets for r in usable})  # the label stage's rule
    if result.undecided:
        return _held(result.undecided, usable)
    annotators = sorted({r.annotator for r in usable if r.annotator})
    if not result.targets:
        return Frozen(None, [], [], skipped=f"no consensus among {len(usable)} annotations")
    return Frozen(result.targets, sorted(r.id for r in usable), annotators)


def _unread(revisions: list[Revision]) -> list[Revision]:
    """Newest revisions that are live (not deleted or cancelled) but had regions left out as invalid."""
    newest: dict[int, Revision] = {}
    for rev in revisions:
        if rev.ls_annotation_id not in newest or rev.revision > newest[rev.ls_annotation_id].revision:
            newest[rev.ls_annotation_id] = rev
    return [r for r in newest.values() if not r.valid and not r.deleted and not r.was_cancelled]


def _held(reasons: list[str], usable: list[Revision]) -> Frozen:
    return Frozen(None, sorted(r.id for r in usable), sorted({r.annotator for r in usable if r.annotator}),
                  skipped=NEEDS_REVIEW, review=reasons)


def lacks(chosen: list[dict[str, Any]], other: list[dict[str, Any]], threshold: float = 0.5) -> list[str]:
    """What ``other`` labels that ``chosen`` does not: unmatched boxes, choice labels, differing other shapes."""
    out = []
    boxes_c = [t for t in chosen if t["type"] == "bbox"]
    boxes_o = [t for t in other if t["type"] == "bbox"]
    matched = {j for _, j, _ in match(boxes_c, boxes_o, threshold)}
    out += [f"bbox {b['label']!r} near ({b['x_min']:.0f}, {b['y_min']:.0f}) not in the latest annotation"
            for j, b in enumerate(boxes_o) if j not in matched]
    labels_c = {t["label"] for t in chosen if t["type"] == "choice"}
    out += [f"choice {t['label']!r} not in the latest annotation" for t in other
            if t["type"] == "choice" and t["label"] not in labels_c]
    for kind in ("polygon", "keypoints", "mask", "span"):
        mine = sorted(repr(sorted(t.items())) for t in chosen if t["type"] == kind)
        theirs = sorted(repr(sorted(t.items())) for t in other if t["type"] == kind)
        if theirs and mine != theirs:
            out.append(f"{kind}: differs from the latest annotation")
    return out
