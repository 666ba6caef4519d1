"""The demo's data without Label Studio: the bundled demo site crawled over HTTP, labeled as the demo's
simulated annotators label it, versions v1 and v2 (a reviewer's answers, one hand-made relabel), and the
dashboard served by uvicorn on a free port of 127.0.0.1."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from export import create_version
from storage.migrate import upgrade
from storage.models import Annotation, Asset, ItemAsset, Task, VersionMember
from tests.conftest import make_settings
from tests.e2e.test_demo_truth import REVIEWER, T0, adjudicate, label_like_the_demo
from tests.scrapers.helpers import check, harvest, harvest_env, write_toml

PROJECT = "demo-detection"


@dataclass
class Demo:
    store: Any
    env: dict[str, str]
    root: Path
    truth: dict[str, list[dict]]  # image path -> true boxes
    paths: dict[int, str]  # asset id -> image path
    held: set[str] = field(default_factory=set)  # held out of v1 for review, decided by the reviewer in v2
    relabel: tuple[str, str, str] = ("", "", "")  # (sample key, old label, new label): the hand-made change


def build(root: Path, srv, database_url: str) -> Demo:
    from harvest.store import open_store

    root.mkdir(parents=True, exist_ok=True)
    upgrade(database_url)
    settings = make_settings(root, database_url)
    config = write_toml(root / "harvest.toml", {"crawl": {"demo_url": srv.base_url + "/", "concurrency_per_domain": 8}})
    env = harvest_env(settings, config)
    check(harvest(["crawl", "demo"], env, root, timeout=600))
    store = open_store(settings)
    truth = label_like_the_demo(store, srv.site)
    with store.sessions() as s:
        paths = {}
        for asset_id, url in s.execute(select(ItemAsset.asset_id, ItemAsset.url).order_by(ItemAsset.asset_id, ItemAsset.url)):
            paths.setdefault(asset_id, urlsplit(url).path)
    policy = resources.files("harvest.demo").joinpath("policy.yaml").read_text()
    v1 = create_version(store, "v1", PROJECT, split=(0.8, 0.1, 0.1), seed=0, group_by="page", policy_text=policy,
                        revision_rule="consensus")
    held = set(v1.stats["needs_review"]["reasons"])
    adjudicate(store, truth)  # the reviewer draws the truth on every held-out sample (adds a probe version)
    relabel = _relabel_one(store, v1.id, held, list(srv.site.labels))
    create_version(store, "v2", PROJECT, split=(0.8, 0.1, 0.1), seed=0, group_by="page", policy_text=policy,
                   revision_rule="consensus", parent="v1")
    return Demo(store, env, root, truth, paths, held, relabel)


def _relabel_one(store, v1_id: int, held: set[str], labels: list[str]) -> tuple[str, str, str]:
    """A reviewer's ground-truth answer on one v1 member: its first box gets another label."""
    with store.sessions() as s:
        member = s.scalars(select(VersionMember).where(VersionMember.version_id == v1_id)
                           .order_by(VersionMember.sample_key)).first()
        boxes = [dict(t) for t in member.targets if t["type"] == "bbox"]
        old = boxes[0]["label"]
        new = next(label for label in labels if label != old)
        boxes[0]["label"] = new
        task = s.scalars(select(Task).where(Task.sample_key == member.sample_key)).one()
        s.add(Annotation(task_id=task.id, ls_annotation_id=task.id * 10 + 8, revision=1, annotator=REVIEWER,
                         updated_at=T0 + timedelta(minutes=8), was_cancelled=False, ground_truth=True,
                         targets=boxes, result=[], result_hash=f"{task.id * 10 + 8:064d}"))
        s.commit()
        return member.sample_key, old, new


def asset_ids(store) -> list[int]:
    with store.sessions() as s:
        return list(s.scalars(select(Asset.id).order_by(Asset.id)))


@contextmanager
def served(store, token: str | None = None):
    """The dashboard app on a free port of 127.0.0.1, in a thread; yields its base URL."""
    import uvicorn

    from dashboard.app import create_app
    from tests.labelstudio import free_port, wait_for

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(store, token=token), host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 20)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
