"""Consensus and agreement of annotators, and version diffs (pure functions, plus one DB-backed diff)."""
from __future__ import annotations

from datetime import timedelta

from export import create_version
from export.revisions import NEEDS_REVIEW, Revision, freeze
from export.diff import VersionView, box_changes, diff_versions
from export.queries import diff
from storage.models import Annotation
from tests.export.factory import T0, box, choice, detection_project


def rev(i, targets, annotator, **kw):
    return Revision(id=i, ls_annotation_id=100 + i, revision=1, annotator=annotator,
                    updated_at=T0 + timedelta(minutes=i), was_cancelled=False, ground_truth=False, deleted=False,
                    targets=targets, **kw)


def test_consensus_rule_majority_tie_and_boxes():
    three = [rev(1, [choice("cat")], "a"), rev(2, [choice("cat")], "b"), rev(3, [choice("dog")], "c")]
    assert freeze(three, "consensus").targets == [choice("cat")]  # 2 of 3 say cat, 2 of 3 say "not dog"
    tie = freeze([rev(1, [choice("cat")], "a"), rev(2, [choice("dog")], "b")], "consensus")
    assert tie.targets is None and tie.skipped == NEEDS_REVIEW and len(tie.review) == 2
    agreed = [rev(1, [box("cat", 0, 0, 10, 10)], "a"), rev(2, [box("cat", 1, 1, 11, 11)], "b"),
              rev(3, [box("cat", 0, 2, 10, 12)], "c")]
    merged = freeze(agreed, "consensus")
    assert [(t["label"], round(t["x_min"], 3), t["y_max"]) for t in merged.targets] == [("cat", 0.333, 11)]
    assert merged.annotators == ["a", "b", "c"] and merged.annotation_ids == [1, 2, 3]
    # a dog drawn by one of three (twice, in different places): the image would have an unlabeled dog
    partial = [rev(1, [box("cat", 0, 0, 10, 10), box("dog", 50, 50, 60, 60)], "a"),
               rev(2, [box("cat", 1, 1, 11, 11)], "b"), rev(3, [box("cat", 0, 2, 10, 12), box("dog", 80, 80, 90, 90)], "c")]
    held = freeze(partial, "consensus")
    assert held.targets is None and held.skipped == NEEDS_REVIEW
    assert held.review == ["bbox 'dog' near (50, 50): drawn by 1 of 3 annotators (no majority)",
                           "bbox 'dog' near (80, 80): drawn by 1 of 3 annotators (no majority)"]


def test_latest_rule_holds_out_objects_the_newest_annotation_lacks():
    older = rev(1, [box("cat", 0, 0, 10, 10), box("dog", 50, 50, 60, 60)], "a")
    newer = rev(2, [box("cat", 1, 1, 11, 11)], "b")
    held = freeze([older, newer], "latest")
    assert held.targets is None and held.review == ["annotation 101 (a): bbox 'dog' near (50, 50) not in the latest annotation"]
    superset = rev(3, [box("cat", 0, 0, 10, 10), box("dog", 50, 50, 61, 60)], "c")
    assert freeze([older, superset], "latest").targets == superset.targets
    truth = Revision(4, 104, 1, "r", T0, False, True, False, [box("cat", 0, 0, 10, 10)])
    assert freeze([older, newer, truth], "latest").targets == truth.targets  # the reviewer decided


def test_deletion_is_read_from_the_newest_revision():
    deleted = [Revision(1, 101, 1, "a", T0, False, False, True, [choice("cat")])]
    assert freeze(deleted, "latest").targets is None
    readded = deleted + [Revision(2, 101, 2, "a", T0 + timedelta(minutes=1), False, False, False, [choice("dog")])]
    assert freeze(readded, "latest").targets == [choice("dog")]


def test_invalid_newest_revision_is_not_used():
    revs = [rev(1, [choice("cat")], "a"), Revision(2, 101, 2, "a", T0, False, False, False, [choice("dog")], valid=False)]
    assert freeze(revs, "latest").targets is None


def test_box_changes_match_by_iou():
    old = [box("cat", 0, 0, 10, 10), box("dog", 50, 50, 60, 60), box("cat", 100, 100, 110, 110)]
    new = [box("cat", 0, 0, 10, 11), box("bird", 50, 50, 60, 60), box("cat", 200, 200, 210, 210)]
    ch = box_changes(old, new)
    assert ch["relabelled"] == [("dog", "bird")] and [m[0] for m in ch["moved"]] == ["cat"]
    assert ch["added"] == ["cat"] and ch["removed"] == ["cat"]


def test_diff_versions_pure():
    a = VersionView("a", {"s1": ("train", [choice("cat")]), "s2": ("val", [choice("dog")]), "s3": ("test", [])},
                    "name: x\n", {"seed": 1})
    b = VersionView("b", {"s1": ("train", [choice("dog")]), "s2": ("test", [choice("dog")]), "s4": ("train", [choice("dog")])},
                    "name: y\n", {"seed": 2})
    d = diff_versions(a, b)
    assert d["added"] == ["s4"] and d["removed"] == ["s3"]
    assert d["split_moves"] == [{"sample": "s2", "from": "val", "to": "test"}]
    assert [c["sample"] for c in d["label_changes"]] == ["s1"]
    assert d["per_class"]["dog"] == {"before": 1, "after": 3, "delta": 2, "samples_added": 1, "samples_removed": 0}
    assert d["settings"] == {"seed": (1, 2)} and "+name: y" in d["policy_diff"]


def test_diff_of_two_stored_versions(store):
    f = detection_project(store, n=8)
    create_version(store, "a", "proj", seed=1)
    # a new revision of one annotation: its cat box becomes a dog
    first = f.session.query(Annotation).order_by(Annotation.id).first()
    moved = [{**t, "label": "dog"} if t["type"] == "bbox" else t for t in first.targets]
    f.annotate(first.task, moved, first.annotator, ls_id=first.ls_annotation_id, revision=2, minutes=10)
    f.commit()
    create_version(store, "b", "proj", seed=1, parent="a")
    d = diff(store, "a", "b")
    assert d["added"] == [] and d["removed"] == [] and d["split_moves"] == []
    assert len(d["label_changes"]) == 1 and d["label_changes"][0]["relabelled"]
    assert first.targets[0]["label"] == "cat" and len(first.targets) == 2  # sample 0 of detection_project
    assert d["per_class"]["dog"]["delta"] == 2 and d["per_class"]["cat"]["delta"] == -2


def test_one_object_named_differently_is_reported_once_as_a_label_conflict():
    a = rev(1, [box("cat", 0, 0, 10, 10), box("dog", 50, 50, 60, 60)], "a")
    b = rev(2, [box("cat", 1, 1, 11, 11), box("fox", 51, 50, 61, 60)], "b")
    held = freeze([a, b], "consensus")
    assert held.targets is None and held.skipped == NEEDS_REVIEW
    assert held.review == ["bbox near (50, 50): labelled 'dog' by 1, 'fox' by 1 of 2 annotators (no label has a majority)"]
    apart = freeze([rev(1, [box("dog", 0, 0, 10, 10)], "a"), rev(2, [box("fox", 50, 50, 60, 60)], "b")], "consensus")
    assert apart.review == ["bbox 'dog' near (0, 0): drawn by 1 of 2 annotators (no majority)",
                            "bbox 'fox' near (50, 50): drawn by 1 of 2 annotators (no majority)"]
