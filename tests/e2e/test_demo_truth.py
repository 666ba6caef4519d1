"""The demo's own data, checked against the demo site's ground truth (no Label Studio: the two simulated
annotators' labels are written as the demo's annotate step makes them, seeded by image path).

- every revision rule: no included image has an unlabeled true object; disagreements are held out with
  reasons; a reviewer's ground-truth annotation decides them in the next version;
- two fresh crawls (1 vs 16 concurrent requests, so assets arrive in a different order and get other
  database ids) give the same v1: content hash, members by content, splits and augmented copies' bytes.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from importlib import resources
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from export import create_version, export_version
from export.errors import EmptyVersion
from harvest.demo.simulate import simulated_targets
from harvest.demo.site import DemoSite, serve
from harvest.demo.steps import ANNOTATORS
from storage.migrate import upgrade
from storage.models import Annotation, Asset, ItemAsset, LabelingProject, Source, Task
from tests.conftest import make_settings
from tests.scrapers.helpers import check, harvest, harvest_env, write_toml

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
REVIEWER = "reviewer@harvest.local"
RULES = ("latest", "consensus")


@pytest.fixture(scope="module")
def site():
    with serve(DemoSite(0), port=0) as srv:
        yield srv


def crawled_store(tmp_path, srv, concurrency: int):
    from harvest.store import open_store

    tmp_path.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp_path / 'harvest.db'}"
    upgrade(url)
    settings = make_settings(tmp_path, url)
    config = write_toml(tmp_path / "harvest.toml", {"crawl": {"demo_url": srv.base_url + "/",
                                                              "concurrency_per_domain": concurrency}})
    check(harvest(["crawl", "demo"], harvest_env(settings, config), tmp_path, timeout=600))
    return open_store(settings)


def label_like_the_demo(store, site: DemoSite) -> dict[str, list[dict]]:
    """Tasks for every demo image; annotator 1 copies the truth, annotator 2 changes ~15% of boxes."""
    truth = site.ground_truth()
    labels = list(site.labels)
    with store.sessions() as s:
        # the demo's project, made for its source (as `harvest demo` makes it), so per-source counts include it
        project = LabelingProject(name="demo-detection", template="object-detection", labels=labels,
                                  label_config="<View/>", source_id=s.scalar(select(Source.id).where(Source.name == "demo")))
        s.add(project)
        s.flush()
        rows = s.execute(select(Asset.id, Asset.width, Asset.height, ItemAsset.url)
                         .join(ItemAsset, ItemAsset.asset_id == Asset.id).order_by(Asset.id, ItemAsset.url)).all()
        seen: dict[int, str] = {}
        for asset_id, width, height, url in rows:
            path = urlsplit(url).path
            if path not in truth or asset_id in seen:
                continue
            seen[asset_id] = path
            task = Task(project_id=project.id, sample_key=f"asset:{asset_id}", asset_id=asset_id)
            s.add(task)
            s.flush()
            for minute, email in enumerate(ANNOTATORS, start=1):
                rate = 0.0 if email == ANNOTATORS[0] else 0.15
                targets, _ = simulated_targets(truth[path], labels, email, path, rate, width, height)
                s.add(Annotation(task_id=task.id, ls_annotation_id=task.id * 10 + minute, revision=1, annotator=email,
                                 updated_at=T0 + timedelta(minutes=minute), was_cancelled=False, ground_truth=False,
                                 targets=targets, result=[], result_hash=f"{task.id * 10 + minute:064d}"))
        s.commit()
    return truth


def adjudicate(store, truth: dict[str, list[dict]]) -> None:
    """A reviewer's ground-truth annotation (the true boxes) on every sample held out as needs review."""
    held = create_version(store, f"probe-{store.settings.data_dir.parent.name}", "demo-detection",
                          revision_rule="consensus").stats["needs_review"]["reasons"]
    with store.sessions() as s:
        for task in s.scalars(select(Task).where(Task.sample_key.in_(set(held)))):
            url = s.scalars(select(ItemAsset.url).where(ItemAsset.asset_id == task.asset_id).order_by(ItemAsset.url)).first()
            s.add(Annotation(task_id=task.id, ls_annotation_id=task.id * 10 + 9, revision=1, annotator=REVIEWER,
                             updated_at=T0 + timedelta(minutes=9), was_cancelled=False, ground_truth=True,
                             targets=truth[urlsplit(url).path], result=[], result_hash=f"{task.id * 10 + 9:064d}"))
        s.commit()


def member_keys(store, name: str) -> set[str]:
    from storage.models import DatasetVersion, VersionMember

    with store.sessions() as s:
        return set(s.scalars(select(VersionMember.sample_key).join(DatasetVersion)
                             .where(DatasetVersion.name == name)))


def tasks(store) -> int:
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(Task))


def _iou(a: dict, b: dict) -> float:
    w = min(a["x_max"], b["x_max"]) - max(a["x_min"], b["x_min"])
    h = min(a["y_max"], b["y_max"]) - max(a["y_min"], b["y_min"])
    inter = max(0.0, w) * max(0.0, h)
    area = lambda t: (t["x_max"] - t["x_min"]) * (t["y_max"] - t["y_min"])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def unlabeled_true_objects(store, name: str, truth: dict[str, list[dict]]) -> tuple[int, int, int]:
    """(included images, true objects on them, true objects with no same-label box at IoU >= 0.5)."""
    from storage.models import DatasetVersion, VersionMember

    with store.sessions() as s:
        version = s.scalars(select(DatasetVersion).where(DatasetVersion.name == name)).one()
        members = list(s.scalars(select(VersionMember).where(VersionMember.version_id == version.id)))
    objects = missing = 0
    for m in members:
        true_boxes = truth[urlsplit(m.provenance["image_url"]).path]
        objects += len(true_boxes)
        for t in true_boxes:
            if not any(b["type"] == "bbox" and b["label"] == t["label"] and _iou(b, t) >= 0.5 for b in m.targets):
                missing += 1
    return len(members), objects, missing


@pytest.fixture(scope="module")
def two_crawls(site, tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-truth")
    stores = [crawled_store(root / "one", site, 1), crawled_store(root / "many", site, 16)]
    truths = [label_like_the_demo(st, site.site) for st in stores]
    yield stores, truths[0]
    for st in stores:
        st.close()


def shown_review(store, name: str, tmp_path) -> str:
    """The needs-review lines of `harvest dataset show NAME` (the CLI, as a user runs it)."""
    env = {**harvest_env(store.settings, write_toml(tmp_path / "show.toml", {"crawl": {}})), "COLUMNS": "250"}
    out = check(harvest(["dataset", "show", name], env, tmp_path)).stdout.splitlines()
    start = next((i for i, line in enumerate(out) if line.startswith("needs review")), None)
    if start is None:
        return "needs review: none"
    lines = [out[start]]
    for line in out[start + 1:]:
        if not line.startswith("  "):
            break
        lines.append(line)
    return "\n".join(lines)


def print_table(rows: list[tuple]) -> None:
    head = ("version", "rule", "included images", "true objects on them", "unlabeled true objects", "held out")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def test_every_rule_leaves_no_true_object_unlabeled_and_review_decides(two_crawls, tmp_path):
    (store, _), truth = two_crawls
    policy = resources.files("harvest.demo").joinpath("policy.yaml").read_text()
    figures, rows, shown = {}, [], {}
    demo = create_version(store, "demo-v1", "demo-detection", split=(0.8, 0.1, 0.1), seed=0, group_by="page",
                          policy_text=policy, revision_rule="consensus")  # exactly as `harvest demo` makes v1
    with pytest.raises(EmptyVersion, match="no ground-truth annotation among 2"):  # nobody reviewed yet
        create_version(store, "ground-truth-v1", "demo-detection", seed=0, group_by="page", revision_rule="ground-truth")
    rows.append(("ground-truth-v1", "ground-truth", "refused: no sample has a ground-truth annotation yet", "-", "-", "-"))
    for name, rule in (("demo-v1", "consensus"), *((f"{r}-v1", r) for r in RULES)):
        v = demo if name == "demo-v1" else create_version(store, name, "demo-detection", seed=0, group_by="page",
                                                          revision_rule=rule)
        images, objects, missing = unlabeled_true_objects(store, v.name, truth)
        review = v.stats["needs_review"]
        figures[name] = (images, objects, missing, review["samples"], review["by_kind"])
        rows.append((name, rule, images, objects, missing, review["samples"]))
        shown[name] = shown_review(store, name, tmp_path)
        assert missing == 0, f"{name}: {missing} of {objects} true objects unlabeled on included images"
        assert v.stats["skipped"].get("needs review (annotators disagree)", 0) == review["samples"]
        assert review["samples"] > 0
        assert f"needs review (held out, annotators disagree): {review['samples']} samples" in shown[name]
    # a reviewer adjudicates every held-out sample (here: draws the truth) -> later versions include them;
    # done in both stores alike, so the other test still compares like with like
    held = set(create_version(store, "probe", "demo-detection", revision_rule="consensus").stats["needs_review"]["reasons"])
    for st in two_crawls[0]:
        adjudicate(st, truth)
    for rule in (*RULES, "ground-truth"):
        v = create_version(store, f"{rule}-v2", "demo-detection", seed=0, group_by="page", revision_rule=rule)
        images, objects, missing = unlabeled_true_objects(store, v.name, truth)
        assert missing == 0 and v.stats["needs_review"]["samples"] == 0, rule
        figures[f"{rule} after review"] = (images, objects, missing, 0, {})
        rows.append((f"{rule}-v2 (after review)", rule, images, objects, missing, 0))
        assert held <= member_keys(store, v.name)
        if rule != "ground-truth":
            assert images == figures[f"{rule}-v1"][0] + len(held)
    print()
    print_table(rows)
    for name, text in shown.items():
        print(f"\n$ harvest dataset show {name}   (needs-review lines)\n{text}")
    print(json.dumps(figures, indent=1))


def test_two_fresh_crawls_give_the_same_v1(two_crawls, tmp_path):
    (a, b), _ = two_crawls
    ids = []
    for st in (a, b):
        with st.sessions() as s:
            ids.append(dict(s.execute(select(Asset.sha256, Asset.id)).all()))
    assert ids[0].keys() == ids[1].keys()
    assert ids[0] != ids[1], "both crawls stored the images in the same order; the test would prove nothing"
    policy = resources.files("harvest.demo").joinpath("policy.yaml").read_text()
    versions = [create_version(st, "v1", "demo-detection", split=(0.8, 0.1, 0.1), seed=0, group_by="page",
                               policy_text=policy, revision_rule="consensus") for st in (a, b)]
    assert versions[0].content_hash == versions[1].content_hash
    assert versions[0].stats["splits"] == versions[1].stats["splits"]
    assert versions[0].stats["classes"] == versions[1].stats["classes"]
    manifests = []
    for st, name in ((a, "a"), (b, "b")):
        export_version(st, "v1", "coco", tmp_path / name)
        manifests.append(json.loads((tmp_path / name / "manifest.json").read_text()))
    by_content = [sorted((s["id"], s["sha256"], s["split"], tuple(s["labels"])) for s in m["samples"]) for m in manifests]
    assert by_content[0] == by_content[1]  # same ids, originals, splits, and augmented copies with the same bytes
    images = [sorted((f["path"], f["sha256"]) for f in m["files"] if f["path"].startswith("images/")) for m in manifests]
    assert images[0] == images[1]  # the same file names holding the same bytes
    assert not any(s["id"].startswith(("asset:", "item:")) for s in manifests[0]["samples"])
    assert sum(1 for s in manifests[0]["samples"] if "augmented_from" in s) > 0

