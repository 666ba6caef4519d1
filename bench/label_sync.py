"""Label-stage sync benchmark against a real Label Studio (started here, in a temp dir).

1. push: harvest's `push` of N tasks vs a raw label-studio-sdk bulk import of the same task data
   (same batch size), interleaved rounds, medians; ratio = SDK time / harvest time (goal >= 0.9).
2. first full pull: a project of N tasks, half of them annotated (two boxes each; imported with their
   annotations by the SDK and recorded as pushed), pulled into a store that holds none of it, vs Label
   Studio's own full JSON export of the same project (downloaded and parsed); interleaved rounds,
   medians; ratio = pull time / export time (goal <= 1.0).
3. incremental pull after 10 tasks changed vs the full JSON export; ratio = export time / pull time.

Usage: python bench/label_sync.py [--tasks 50000] [--rounds 3] [--changed 10] [--skip-push]
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotation import annotate, create_annotator, create_project, pull, push  # noqa: E402
from annotation import server  # noqa: E402
from annotation.config import LabelStudioConfig  # noqa: E402
from annotation.server import free_port  # noqa: E402
from annotation.media import local_url  # noqa: E402
from harvest.settings import load_settings  # noqa: E402
from harvest.setup import init_store  # noqa: E402
from harvest.store import open_store  # noqa: E402
from storage.collect_models import Asset  # noqa: E402
from storage.engine import session_scope  # noqa: E402


def add_assets(store, n: int) -> list[tuple[int, str]]:
    from PIL import Image

    rows = []
    with session_scope(store.sessions) as session:
        for i in range(n):
            buf = io.BytesIO()
            Image.new("RGB", (16, 12), (i % 256, (i // 256) % 256, 7)).save(buf, format="PNG")
            key = store.blobs.put(buf.getvalue())
            rows.append(Asset(sha256=key, mime="image/png", width=16, height=12, bytes=len(buf.getvalue()),
                              blob_path=store.blobs.relpath(key)))
        session.add_all(rows)
        session.flush()
        return [(a.id, a.sha256) for a in rows]


def sdk_import(ls, title: str, config: str, tasks: list[dict], batch: int) -> float:
    project = ls.projects.create(title=title, label_config=config)
    start = time.perf_counter()
    for i in range(0, len(tasks), batch):
        ls.projects.import_tasks(id=project.id, request=tasks[i:i + batch], return_task_ids=True)
    return time.perf_counter() - start


def labeled_project(store, ls, assets: list[tuple[int, str]], batch: int):
    """A harvest project whose N tasks went to Label Studio with an annotation on every other one (the SDK
    imports them with their annotations; harvest records them as pushed, as `push` would)."""
    from annotation.sync_push import KEY
    from storage.base import utcnow
    from storage.labels import add_pending_tasks, mark_pushed, task_ids

    project = create_project(store, "bench-pull", "object-detection", ["cat", "dog"])
    boxes = [{"id": f"b{k}", "type": "rectanglelabels", "from_name": "label", "to_name": "image",
              "original_width": 16, "original_height": 12, "image_rotation": 0,
              "value": {"x": 10.0 * k, "y": 10.0, "width": 25.0, "height": 40.0, "rotation": 0,
                        "rectanglelabels": ["cat" if k else "dog"]}} for k in range(2)]
    for i in range(0, len(assets), batch):
        chunk = assets[i:i + batch]
        tasks = [{"data": {"image": local_url(f"ls-files/{sha}.png"), KEY: f"asset:{aid}", "width": 16, "height": 12}}
                 for aid, sha in chunk]
        for n, task in enumerate(tasks):
            if (i + n) % 2 == 0:
                task["annotations"] = [{"result": boxes, "lead_time": 2.0}]
        ids = ls.projects.import_tasks(id=project.ls_project_id, request=tasks, return_task_ids=True).task_ids
        rows = [{"project_id": project.id, "sample_key": t["data"][KEY], "asset_id": aid, "item_id": None,
                 "data": t["data"]} for t, (aid, _) in zip(tasks, chunk)]
        with session_scope(store.sessions) as session:
            add_pending_tasks(session, rows)
            known = task_ids(session, project.id, [r["sample_key"] for r in rows])
            mark_pushed(session, [(known[r["sample_key"]], ls_id) for r, ls_id in zip(rows, ids)], utcnow())
    return project


def forget_pulls(store, project) -> None:
    from sqlalchemy import delete, select, update

    from storage.label_models import Annotation, LabelingProject, Task

    with session_scope(store.sessions) as session:
        tasks = select(Task.id).where(Task.project_id == project.id)
        session.execute(delete(Annotation).where(Annotation.task_id.in_(tasks)))
        session.execute(update(LabelingProject).where(LabelingProject.id == project.id)
                        .values(pull_cursor=None, pull_checked_at=None))


def export_time(ls, project, n: int, all_tasks: bool = True) -> float:
    t0 = time.perf_counter()
    export = json.loads(b"".join(ls.projects.exports.download_sync(
        project.ls_project_id, export_type="JSON", download_all_tasks=all_tasks)))
    took = time.perf_counter() - t0
    assert len(export) == n, len(export)
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-push", action="store_true", help="Measure the pulls only.")
    args = parser.parse_args()
    from label_studio_sdk import LabelStudio

    with tempfile.TemporaryDirectory(prefix="harvest-bench-") as tmp:
        data = Path(tmp) / "data"
        cfg = LabelStudioConfig(port=free_port())
        t0 = time.perf_counter()
        state = server.start(data, cfg)
        print(f"Label Studio up in {time.perf_counter() - t0:.1f} s at {state.url}")
        try:
            settings = load_settings(None, data_dir=data, labelstudio={"port": cfg.port})
            init_store(settings)
            store = open_store(settings)
            assets = add_assets(store, args.tasks)
            batch = settings.labelstudio.batch_size
            ls = LabelStudio(base_url=state.url, api_key=state.token, timeout=300, headers={"Connection": "close"})
            sdk_times, our_times = [], []
            for r in range(0 if args.skip_push else args.rounds):  # interleaved rounds: the median resists noise
                project = create_project(store, f"bench-push-{r}", "object-detection", ["cat", "dog"])
                tasks = [{"data": {"image": local_url(f"ls-files/{sha}.png"), "harvest_sample": f"asset:{aid}",
                                   "width": 16, "height": 12}} for aid, sha in assets]
                if r % 2 == 0:  # alternate who goes first: the server's DB grows with every import
                    sdk_times.append(sdk_import(ls, f"bench-sdk-{r}", project.label_config, tasks, batch))
                t0 = time.perf_counter()
                report = push(store, project.name)
                our_times.append(time.perf_counter() - t0)
                assert report.imported == args.tasks, report
                if r % 2 == 1:
                    sdk_times.append(sdk_import(ls, f"bench-sdk-{r}", project.label_config, tasks, batch))
            sdk, ours = statistics.median(sdk_times or [0]), statistics.median(our_times or [1])
            if our_times:
                print(f"push {args.tasks} tasks, median of {args.rounds}: harvest {ours:.2f} s ({args.tasks / ours:.0f}/s) "
                      f"vs raw SDK bulk import {sdk:.2f} s; ratio SDK/harvest = {sdk / ours:.2f} (goal >= 0.9); "
                      f"runs harvest {[round(t, 2) for t in our_times]}, SDK {[round(t, 2) for t in sdk_times]}")
            project = labeled_project(store, ls, assets, batch)
            pulls, exports = [], []
            for r in range(args.rounds):
                if r % 2 == 0:
                    exports.append(export_time(ls, project, args.tasks))
                forget_pulls(store, project)  # the store holds no annotation of the project: a first pull
                t0 = time.perf_counter()
                first = pull(store, project.name)
                pulls.append(time.perf_counter() - t0)
                assert first.tasks == first.revisions == len(assets[::2]), first  # the annotated tasks are read
                if r % 2 == 1:
                    exports.append(export_time(ls, project, args.tasks))
            annotated = export_time(ls, project, len(assets[::2]), all_tasks=False)
            ours, theirs = statistics.median(pulls), statistics.median(exports)
            print(f"Label Studio's export of the annotated tasks only (its default): {annotated:.2f} s; "
                  f"ratio pull/that = {ours / annotated:.2f}")
            print(f"first full pull of {args.tasks} tasks ({len(assets[::2])} annotated), median of {args.rounds}: "
                  f"harvest {ours:.2f} s ({args.tasks / ours:.0f} tasks/s) vs Label Studio's full JSON export "
                  f"{theirs:.2f} s; ratio pull/export = {ours / theirs:.2f} (goal <= 1.0); runs pull "
                  f"{[round(t, 2) for t in pulls]}, export {[round(t, 2) for t in exports]}")
            user = create_annotator(store, "bench@example.com", "bench-pass-123")
            for aid, _ in assets[: args.changed]:
                annotate(store, project.name, f"asset:{aid}", [{"type": "bbox", "x_min": 1, "y_min": 1, "x_max": 9,
                                                                "y_max": 9, "label": "cat"}], user)
            t0 = time.perf_counter()
            changed = pull(store, project.name)
            inc = time.perf_counter() - t0
            t0 = time.perf_counter()
            export = json.loads(b"".join(ls.projects.exports.download_sync(
                project.ls_project_id, export_type="JSON", download_all_tasks=True)))
            full = time.perf_counter() - t0
            assert changed.revisions == args.changed + 0 and len(export) == args.tasks, (changed, len(export))
            print(f"pull after {args.changed} changed tasks in a {args.tasks}-task project: incremental "
                  f"{inc:.3f} s ({changed.tasks} tasks read) vs full JSON export {full:.2f} s; "
                  f"ratio export/pull = {full / inc:.1f}x")
            store.close()
        finally:
            server.stop(data)


if __name__ == "__main__":
    main()
