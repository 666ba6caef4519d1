"""The demo's steps, each a plain function over a shared context; `run.py` times and reports them."""
from __future__ import annotations

import os
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.progress import Progress
from sqlalchemy import select

from harvest.errors import HarvestError
from harvest.settings import Settings
from harvest.store import Store

PROJECT = "demo-detection"
VERSION = "v1"
FORMATS = ("coco", "yolo")
ANNOTATORS = ("annotator1@harvest.local", "annotator2@harvest.local")


@dataclass
class DemoContext:
    settings: Settings
    config_file: Path | None
    console: Console
    progress: Progress
    disagreement: float = 0.15
    store: Store | None = None
    site: Any = None
    server: Any = None
    notes: dict[str, Any] = field(default_factory=dict)
    cleanup: ExitStack = field(default_factory=ExitStack)


def _demo_source_url(ctx: DemoContext) -> str:
    from scrapers.config import all_sources

    source = all_sources(ctx.settings).get("demo")
    if source is None or not source.start_urls:
        raise HarvestError("the source 'demo' has no start URL; remove [sources.demo] from harvest.toml to use the default.")
    return source.start_urls[0]


def serve_site(ctx: DemoContext) -> str:
    """Serve the bundled demo site on the host and port the `demo` source points at."""
    import httpx

    from harvest.demo.site import DemoSite, serve

    parts = urlsplit(_demo_source_url(ctx))
    ctx.site = DemoSite(0)
    try:
        ctx.server = ctx.cleanup.enter_context(serve(ctx.site, host=parts.hostname or "127.0.0.1", port=parts.port or 80))
    except Exception as exc:
        try:
            robots = httpx.get(f"{parts.scheme}://{parts.netloc}/robots.txt", timeout=5).text
        except httpx.HTTPError:
            robots = ""
        if "Disallow: /private/" not in robots:
            raise HarvestError(
                f"cannot serve the demo site on {parts.netloc}: {exc}. Free that port, or point "
                "[sources.demo] start_urls at another port."
            ) from None
        ctx.server = None  # a demo site is already served there (e.g. `harvest demo site`)
        return f"already served at {parts.scheme}://{parts.netloc}"
    return f"serving {ctx.server.base_url}"


def init(ctx: DemoContext) -> str:
    from harvest.setup import init_store
    from harvest.store import open_store

    head = init_store(ctx.settings)
    ctx.store = open_store(ctx.settings)
    return f"data in {ctx.settings.data_dir}, database at revision {head}"


def crawl(ctx: DemoContext) -> str:
    """Crawl in a child process (Twisted's reactor runs once per process), as `harvest crawl demo` does."""
    cmd = [sys.executable, "-m", "harvest"]
    if ctx.config_file:
        cmd += ["--config", str(ctx.config_file)]
    cmd += ["crawl", "demo"]
    env = {**os.environ, "HARVEST_DATA_DIR": str(ctx.settings.data_dir), "HARVEST_DATABASE_URL": ctx.settings.database_url}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise HarvestError(f"the demo crawl failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    from storage.models import Asset

    with ctx.store.sessions() as s:
        assets = len(s.scalars(select(Asset.id)).all())
    return f"{assets} images stored"


def label_server(ctx: DemoContext) -> str:
    from annotation import server

    cfg = ctx.settings.labelstudio
    if cfg.url:
        return f"using the configured server {cfg.url}"
    state = server.start(ctx.settings.data_dir, cfg)
    return f"Label Studio at {state.url}"


def project(ctx: DemoContext) -> str:
    from annotation import create_project

    proj = create_project(ctx.store, PROJECT, "object-detection", list(ctx.site.labels), source="demo")
    ctx.notes["ls_project_id"] = proj.ls_project_id
    return f"project {PROJECT} (Label Studio project {proj.ls_project_id})"


def ground_truth_by_sample(ctx: DemoContext) -> dict[str, tuple[list[dict], int, int, str]]:
    """sample key -> (ground-truth boxes, width, height, image path), found through each asset's image URLs."""
    from storage.models import Asset, Item, ItemAsset, Source

    truth = ctx.site.ground_truth()
    out: dict[str, tuple[list[dict], int, int, str]] = {}
    with ctx.store.sessions() as s:
        rows = s.execute(
            select(Asset.id, Asset.width, Asset.height, ItemAsset.url)
            .join(ItemAsset, ItemAsset.asset_id == Asset.id)
            .join(Item, Item.id == ItemAsset.item_id)
            .join(Source, Source.id == Item.source_id)
            .where(Source.name == "demo")
            .order_by(Asset.id, ItemAsset.url)
        ).all()
    for asset_id, width, height, url in rows:
        path = urlsplit(url).path
        if path in truth and f"asset:{asset_id}" not in out:
            out[f"asset:{asset_id}"] = (truth[path], width, height, path)
    return out


def push(ctx: DemoContext) -> str:
    from annotation import push as push_tasks

    truth = ground_truth_by_sample(ctx)
    ctx.notes["truth"] = truth
    predictions = {
        key: [{"model_version": "demo-ground-truth", "score": 1.0, "targets": boxes}]
        for key, (boxes, _, _, _) in truth.items()
    }
    report = push_tasks(ctx.store, PROJECT, predictions)
    return f"{report.imported} new tasks, {report.predictions} pre-annotations, {report.adopted} adopted"


def annotate(ctx: DemoContext) -> str:
    """Two SIMULATED annotators label every task not yet labeled by them, with controlled disagreement."""
    from annotation import annotate as write_annotation
    from annotation import create_annotator, pull
    from annotation.connect import client_for
    from storage.models import Annotation, LabelingProject, Task

    pull(ctx.store, PROJECT)  # what is already there, so a second run writes nothing twice
    with ctx.store.sessions() as s:
        done = set(
            s.execute(
                select(Task.sample_key, Annotation.annotator)
                .join(Annotation, Annotation.task_id == Task.id)
                .join(LabelingProject, LabelingProject.id == Task.project_id)
                .where(LabelingProject.name == PROJECT, Annotation.deleted_at.is_(None))
            ).all()
        )
    from harvest.demo.simulate import simulated_targets

    truth = ctx.notes["truth"]
    todo = [(email, key) for email in ANNOTATORS for key in sorted(truth) if (key, email) not in done]
    written = changed = 0
    client = client_for(ctx.settings)
    try:
        ids = {email: create_annotator(ctx.store, email, "demo-annotator-pass", client=client) for email in ANNOTATORS}
        task = ctx.progress.add_task("simulated annotators", total=len(todo))
        for email, key in todo:
            boxes, width, height, path = truth[key]
            rate = 0.0 if email == ANNOTATORS[0] else ctx.disagreement
            # seeded by the image's path, not its asset id, so a fresh demo makes the same labels
            targets, n = simulated_targets(boxes, list(ctx.site.labels), email, path, rate, width, height)
            write_annotation(ctx.store, PROJECT, key, targets, ids[email], lead_time=1.0, client=client)
            written += 1
            changed += n
            ctx.progress.advance(task)
        ctx.progress.remove_task(task)
    finally:
        client.close()
    ctx.console.print(
        f"  [yellow]SIMULATED[/] annotators: {ANNOTATORS[0]} copies the ground truth, {ANNOTATORS[1]} changes "
        f"~{ctx.disagreement:.0%} of boxes (relabel / shift / drop); {changed} boxes changed in this run"
    )
    return f"{written} annotations written ({len(done)} already there)"


def pull(ctx: DemoContext) -> str:
    from annotation import pull as pull_annotations

    r = pull_annotations(ctx.store, PROJECT)
    return (f"{r.tasks} changed tasks, {r.revisions} new revisions, {r.unchanged} unchanged, "
            f"{r.deleted} deleted, {len(r.invalid)} invalid")


def agreement(ctx: DemoContext) -> str:
    from annotation import project_agreement

    table = project_agreement(ctx.store, PROJECT)
    for task, problems in sorted(table.review.items())[:3]:
        ctx.console.print(f"  review {task}: " + "; ".join(problems), highlight=False)
    f1 = table.f1.get("bbox")
    return (f"{table.tasks} tasks with 2 annotators; box F1 at IoU 0.5: "
            f"{'-' if f1 is None else f'{f1:.3f}'}; {len(table.review)} tasks to review "
            f"(`harvest label agreement {PROJECT}` lists them)")


def version(ctx: DemoContext) -> str:
    from export import create_version
    from storage.models import DatasetVersion

    with ctx.store.sessions() as s:
        existing = s.scalar(select(DatasetVersion).where(DatasetVersion.name == VERSION))
    if existing is not None:
        return f"{VERSION} exists (content hash {existing.content_hash[:12]}); versions never change"
    policy = resources.files("harvest.demo").joinpath("policy.yaml").read_text()
    made = create_version(ctx.store, VERSION, PROJECT, split=(0.8, 0.1, 0.1), seed=0, group_by="page",
                          policy_text=policy, revision_rule="consensus")
    return f"{VERSION}: content hash {made.content_hash[:12]}"


def export(ctx: DemoContext) -> str:
    from export import export_version

    done = []
    for fmt in FORMATS:
        out = ctx.settings.data_dir / "exports" / f"{VERSION}-{fmt}"
        if out.exists():
            done.append(f"{fmt}: {out} (exists)")
            continue
        result = export_version(ctx.store, VERSION, fmt, out)
        done.append(f"{fmt}: {result.path} ({result.samples} samples, {result.augmented} augmented)")
    ctx.notes["exports"] = done
    return "; ".join(done)
