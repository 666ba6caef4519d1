"""The demo site's images and ground-truth boxes written into a store as a labeled project and a version.

The images are the demo site's served bytes, validated and EXIF-transposed by the crawl's own ingest
function and measured by the ingest quality pass; every sample is labeled by `truth@demo` with the
site's exact boxes (marked ground truth) and every second one also by `second@demo`, a simulated
annotator who disagrees on ~10% of the boxes (harvest/demo/simulate.py) — the human bound.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

from export import create_version
from harvest.demo.simulate import simulated_targets
from harvest.demo.site.site import DemoSite
from scrapers.imaging import inspect_image
from scrapers.quality import measure_bytes
from storage.quality import insert_quality
from tests.export.factory import Factory

TRUTH, SECOND = "truth@demo", "second@demo"


@dataclass
class Demo:
    version: str
    truth: dict[str, list[dict[str, Any]]]  # sample key -> the site's ground-truth boxes (stored image pixels)
    sizes: dict[str, tuple[int, int]]
    labels: list[str]
    licence: dict[str, str | None]  # sample key -> licence name of its listing
    planted: dict[str, str]  # sample key -> the label fault planted in its frozen annotation


def plant(boxes: list[dict[str, Any]], kind: str, width: int, labels: list[str]) -> list[dict[str, Any]]:
    """One fault on the first box: `swap` its class, `drop` it, or `shift` it by half its width."""
    out = copy.deepcopy(boxes)
    b = out[0]
    if kind == "swap":
        b["label"] = labels[(labels.index(b["label"]) + 1) % len(labels)]
    elif kind == "drop":
        out.pop(0)
    elif kind == "shift":
        w = b["x_max"] - b["x_min"]
        dx = w / 2 if b["x_max"] + w / 2 <= width else -w / 2
        b["x_min"], b["x_max"] = b["x_min"] + dx, b["x_max"] + dx
    else:
        raise ValueError(kind)
    return out


def fault_plan(counts: dict[str, int] | None) -> dict[int, str]:
    """Ordinal of a distinct demo image -> fault, spread over the demo (drops only where >= 2 boxes)."""
    if not counts:
        return {}
    site = DemoSite(0)
    gt, exp = site.ground_truth(), site.expected()
    seen, ordinals = set(), []
    for url in exp["valid_image_urls"]:
        sha = site._data.images[url].sha256
        if sha not in seen:
            seen.add(sha)
            ordinals.append(len(gt[url]))
    plan: dict[int, str] = {}
    order = list(range(len(ordinals)))
    random.Random(7).shuffle(order)
    for kind, n in counts.items():
        fits = [i for i in order if i not in plan and (kind != "drop" or ordinals[i] >= 2)]
        plan.update({i: kind for i in fits[:n]})
    return plan


def demo_version(store: Any, name: str = "v1", split: str = "0.5,0.0,0.5", disagreement: float = 0.1,
                 faults: dict[str, int] | None = None) -> Demo:
    site = DemoSite(0)
    exp = site.expected()
    gt = site.ground_truth()
    listing_of = {g.url: lst for lst in site.listings for g in lst.gallery}
    near = {u: i for i, group in enumerate(exp["near_duplicate_groups"]) for u in group}
    f = Factory(store)
    proj = f.project("demo", labels=site.labels)
    clusters: dict[int, int] = {}
    truth, sizes, seen, licence, planted = {}, {}, set(), {}, {}
    quality = []
    plan = fault_plan(faults)
    for url in exp["valid_image_urls"]:
        facts = inspect_image(site.resource(url).body)
        if facts.sha256 in seen:
            continue
        ordinal = len(seen)
        seen.add(facts.sha256)
        lst = listing_of[url]
        item = f.item(page_url=f"http://127.0.0.1:8765{lst.path}")
        item.licence = lst.licence.name if lst.licence else None
        cluster = None
        if url in near:
            cluster = clusters.get(near[url]) or clusters.setdefault(near[url], f.cluster())
        asset = f.image(item=item, cluster=cluster)
        key = f.store.blobs.put(facts.data)
        asset.sha256, asset.blob_path = key, f.store.blobs.relpath(key)
        asset.width, asset.height, asset.bytes, asset.phash = facts.width, facts.height, len(facts.data), facts.phash
        f.session.flush()
        quality.append({"asset_id": asset.id, **measure_bytes(facts.data)})
        task = f.task(proj, asset)
        boxes = [dict(b) for b in gt[url]]
        given = boxes
        if ordinal in plan:
            planted[task.sample_key] = plan[ordinal]
            given = plant(boxes, plan[ordinal], facts.width, site.labels)
        f.annotate(task, given, TRUTH, ground_truth=True)
        if ordinal % 2 == 0:
            noisy, _ = simulated_targets(copy.deepcopy(boxes), site.labels, SECOND, url, disagreement,
                                         facts.width, facts.height)
            f.annotate(task, noisy, SECOND, minutes=1)
        truth[task.sample_key] = boxes
        sizes[task.sample_key] = (facts.width, facts.height)
        licence[task.sample_key] = item.licence
    insert_quality(f.session, quality)
    f.commit()
    f.close()
    create_version(store, name, "demo", split=split, seed=0, revision_rule="ground-truth")
    return Demo(name, truth, sizes, site.labels, licence, planted)
