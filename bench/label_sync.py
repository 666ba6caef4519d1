"""Label-stage sync benchmark against a real Label Studio (started here, in a temp dir).

1. push: harvest's `push` of N tasks vs a raw label-studio-sdk bulk import of the same task data
   (same batch size), interleaved rounds, medians; ratio = SDK time / harvest time (goal >= 0.8).
2. pull: an incremental `pull` after 10 tasks changed in an N-task project vs a full JSON export
   through the SDK; ratio = export time / pull time.

Usage: python bench/label_sync.py [--tasks 5000] [--changed 10]
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--changed", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
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
            for r in range(args.rounds):  # interleaved rounds; the median resists a noisy machine
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
            sdk, ours = statistics.median(sdk_times), statistics.median(our_times)
            print(f"push {args.tasks} tasks, median of {args.rounds}: harvest {ours:.2f} s ({args.tasks / ours:.0f}/s) "
                  f"vs raw SDK bulk import {sdk:.2f} s; ratio SDK/harvest = {sdk / ours:.2f} (goal >= 0.8); "
                  f"runs harvest {[round(t, 2) for t in our_times]}, SDK {[round(t, 2) for t in sdk_times]}")
            project = create_project(store, "bench-push-0", "object-detection", ["cat", "dog"])

            t0 = time.perf_counter()
            pull(store, project.name, full=True)
            print(f"first full pull of {args.tasks} tasks: {time.perf_counter() - t0:.2f} s")
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
            assert changed.revisions == args.changed and len(export) == args.tasks, (changed, len(export))
            print(f"pull after {args.changed} changed tasks in a {args.tasks}-task project: incremental "
                  f"{inc:.3f} s ({changed.tasks} tasks read) vs full JSON export {full:.2f} s; "
                  f"ratio export/pull = {full / inc:.1f}x")
            store.close()
        finally:
            server.stop(data)


if __name__ == "__main__":
    main()
