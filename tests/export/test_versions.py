"""Creating versions in the DB: freezing, refusal, left-out samples, revision rules, stickiness."""
from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from export import create_version
from export.errors import BadVersionSpec, EmptyVersion, VersionExists, VersionNotFound
from storage import datasets as q
from storage.models import Annotation, DatasetVersion, Item, VersionMember
from tests.export.factory import Factory, box, choice, detection_project


def members(store, name):
    with store.sessions() as s:
        v = q.version_by_name(s, name)
        return {m.sample_key: m for m in q.version_members(s, v.id)}


def test_create_freezes_members_and_stats(store):
    detection_project(store, n=30)
    v = create_version(store, "v1", "proj", seed=3)
    ms = members(store, "v1")
    assert len(ms) == 30 and v.stats["samples"] == 30
    assert sum(v.stats["splits"].values()) == 30
    assert v.stats["leakage_audit"]["leaks"] == 0
    # the three samples of one near-duplicate cluster share a split
    sizes = Counter(m.group_key for m in ms.values())
    clustered = [m for m in ms.values() if sizes[m.group_key] == 3]
    assert len(clustered) == 3 and len({m.split for m in clustered}) == 1
    assert all(m.group_key.startswith("sha256:") for m in ms.values())  # groups are named by content, not ids
    m = next(iter(ms.values()))
    assert m.provenance["image_url"].startswith("http://127.0.0.1:8000/img/")
    assert m.provenance["licence"] == "CC-BY-4.0" and m.annotation_ids and m.sha256
    assert len(v.content_hash) == 64


def test_same_inputs_same_content_hash(store):
    detection_project(store, n=12)
    a = create_version(store, "a", "proj", seed=1)
    b = create_version(store, "b", "proj", seed=1)
    c = create_version(store, "c", "proj", seed=2, split="0.5,0.25,0.25")
    assert a.content_hash == b.content_hash
    assert c.content_hash != a.content_hash


def test_existing_name_refused_and_nothing_half_written(store):
    detection_project(store, n=5)
    create_version(store, "v1", "proj")
    with pytest.raises(VersionExists, match="exists already"):
        create_version(store, "v1", "proj", seed=9)
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(DatasetVersion)) == 1
        assert s.scalar(select(func.count()).select_from(VersionMember)) == 5


def test_bad_inputs_have_clear_errors(store):
    detection_project(store, n=3)
    with pytest.raises(VersionNotFound, match="known: proj"):
        create_version(store, "v", "nope")
    with pytest.raises(BadVersionSpec, match="split ratios"):
        create_version(store, "v", "proj", split="0.8,0.2")
    with pytest.raises(BadVersionSpec, match="group-by"):
        create_version(store, "v", "proj", group_by="colour")
    with pytest.raises(VersionNotFound, match="parent"):
        create_version(store, "v", "proj", parent="missing")


def test_unusable_samples_left_out_and_counted(sqlite_store):
    store = sqlite_store
    f = Factory(store)
    p = f.project()
    ok = f.sample(p, [box("cat", 1, 1, 5, 5)])
    none = f.task(p, f.image())
    cancelled = f.task(p, f.image())
    f.annotate(cancelled, [box("cat", 1, 1, 5, 5)], cancelled=True)
    deleted = f.task(p, f.image())
    f.annotate(deleted, [box("dog", 1, 1, 5, 5)], ls_id=77, deleted=True)
    f.commit()
    v = create_version(store, "v", "proj")
    assert set(members(store, "v")) == {ok.sample_key}
    assert v.stats["skipped_total"] == 3
    with pytest.raises(EmptyVersion):
        create_version(store, "w", "proj", filters=["label=bird"])


def test_revision_rules(sqlite_store):
    store = sqlite_store
    f = Factory(store)
    p = f.project(template="image-classification")
    agreed, reviewed, split_vote = f.task(p, f.image()), f.task(p, f.image()), f.task(p, f.image())
    f.annotate(agreed, [choice("cat")], "a", ls_id=1, minutes=1)
    f.annotate(agreed, [choice("dog")], "a", ls_id=1, revision=2, minutes=5)  # a changed their mind
    f.annotate(agreed, [choice("dog")], "b", ls_id=2, minutes=2)
    f.annotate(agreed, [choice("dog")], "c", ls_id=3, minutes=3)
    f.annotate(reviewed, [choice("dog")], "a", ls_id=4, minutes=1)
    f.annotate(reviewed, [choice("cat")], "b", ls_id=5, minutes=2, ground_truth=True)  # the reviewer decided
    f.annotate(reviewed, [choice("dog")], "c", ls_id=6, minutes=3)
    f.annotate(split_vote, [choice("dog")], "a", ls_id=7, minutes=1)
    f.annotate(split_vote, [choice("cat")], "b", ls_id=8, minutes=2)
    f.commit()
    versions = {rule: create_version(store, rule[0], "proj", revision_rule=rule)
                for rule in ("latest", "ground-truth", "consensus")}
    got = {rule: members(store, v.name) for rule, v in versions.items()}
    assert got["latest"][agreed.sample_key].targets == [choice("dog")]
    assert got["latest"][agreed.sample_key].annotators == ["a"]
    cons = got["consensus"][agreed.sample_key]
    assert cons.targets == [choice("dog")] and cons.annotators == ["a", "b", "c"] and len(cons.annotation_ids) == 3
    assert agreed.sample_key not in got["ground-truth"]  # three annotations, none marked ground truth
    for rule in versions:  # a reviewer's ground truth decides under every rule
        assert got[rule][reviewed.sample_key].targets == [choice("cat")]
        assert got[rule][reviewed.sample_key].annotators == ["b"]
    for rule in ("latest", "consensus"):  # 1 of 2 says dog, 1 of 2 cat: held out, with the reasons
        assert split_vote.sample_key not in got[rule]
        review = versions[rule].stats["needs_review"]
        assert versions[rule].stats["skipped"]["needs review (annotators disagree)"] == 1 == review["samples"]
        assert "'dog'" in " ".join(review["reasons"][split_vote.sample_key])


def test_child_keeps_parent_val_and_test(store):
    f = detection_project(store, n=40)
    create_version(store, "p", "proj", seed=1)
    parent = members(store, "p")
    # more samples arrive, then the child is cut with another seed and grouping
    proj = q.project_by_name(f.session, "proj")
    for i in range(20):
        f.sample(proj, [box("dog", 1, 1, 9, 9)], width=40 + i)
    f.commit()
    create_version(store, "c", "proj", seed=99, parent="p", split="0.6,0.2,0.2")
    child = members(store, "c")
    for key, m in parent.items():
        if m.split in ("val", "test"):
            assert child[key].split == m.split


def test_group_by_page_domain_and_field_keep_groups_whole(sqlite_store):
    f = Factory(sqlite_store)
    p = f.project()
    for page in range(12):
        item = f.item(page_url=f"http://site{page % 3}.test/page/{page}", shop=f"shop{page % 4}")
        for k in range(3):  # three images per page
            f.sample(p, [box(("cat", "dog")[k % 2], 1, 1, 9, 9)], item=item)
    f.commit()
    for i, (group_by, key) in enumerate([("page", "page_url"), ("domain", "domain"), ("field:shop", "shop")]):
        v = create_version(sqlite_store, f"g{i}", "proj", seed=i, group_by=group_by, split="0.5,0.25,0.25")
        assert v.stats["leakage_audit"]["leaks"] == 0
        with sqlite_store.sessions() as s:
            rows = q.version_members(s, v.id)
            splits: dict[str, set[str]] = {}
            for m in rows:
                value = {"page_url": m.provenance["page_url"], "domain": m.provenance["page_url"].split("/")[2],
                         "shop": s.get(Item, m.item_id).fields["shop"]}[key]
                splits.setdefault(value, set()).add(m.split)
        assert all(len(where) == 1 for where in splits.values()), (group_by, splits)
        assert len({m.split for m in rows}) > 1  # groups still spread over splits


def test_close_phashes_share_a_split_even_without_a_cluster(sqlite_store):
    f = Factory(sqlite_store)
    p = f.project()
    for i in range(15):
        base = (i * 0x9E3779B97F4A7C15) & 0x7FFFFFFFFFFFFFFF
        for flip in (0, 1 << (i % 60)):  # a pair 1 bit apart
            f.sample(p, [box(("cat", "dog", "bird")[i % 3], 1, 1, 9, 9)], phash=base ^ flip)
    f.commit()
    v = create_version(sqlite_store, "v", "proj", seed=4, split="0.4,0.3,0.3")
    ms = sorted(members(sqlite_store, "v").values(), key=lambda m: m.asset_id)
    assert all(ms[2 * i].split == ms[2 * i + 1].split for i in range(15))
    audit = v.stats["leakage_audit"]
    assert audit["leaks"] == 0 and audit["phash_checked"] == 30 and audit["phash_threshold"] == 6


def test_version_is_frozen_against_later_changes(sqlite_store):
    f = detection_project(sqlite_store, n=4)
    create_version(sqlite_store, "v", "proj")
    before = {k: (m.targets, m.provenance["licence"]) for k, m in members(sqlite_store, "v").items()}
    for item in f.session.query(Item):
        item.licence = "All rights reserved"  # a re-crawl found a new licence
    first = f.session.query(Annotation).order_by(Annotation.id).first()
    f.annotate(first.task, [box("bird", 0, 0, 3, 3)], first.annotator, ls_id=first.ls_annotation_id, revision=2, minutes=9)
    f.commit()
    after = {k: (m.targets, m.provenance["licence"]) for k, m in members(sqlite_store, "v").items()}
    assert after == before and {lic for _, lic in after.values()} == {"CC-BY-4.0"}
