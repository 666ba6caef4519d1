"""Export a version: build samples from the blob store, render train augmentations, write a format,
a data card and a manifest into a temp dir next to the target, then rename it into place."""
from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from export import policy as aug
from export.canonical import dumps, sha256_file
from export.classes import class_order, describe_left_out, left_out
from export.datacard import datacard
from export.errors import FormatError, OutputPathError, VersionNotFound
from export.formats import get_format
from export.formats.base import Context, Sample, file_name_for
from export.manifest import write_manifest
from export.paths import check_out_dir, clean_stale, locked_temp_dir
from export.replay import replay_record, seed_key
from export.versions import member_content_key
from storage import datasets as q
from storage.blobs import local_copy, relpath
from storage.engine import session_scope
from storage.errors import BlobNotFound
from storage.targets import target_labels

Progress = Callable[[str, int, "int | None"], None]  # (stage, done, total)

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "image/gif": "gif",
              "image/bmp": "bmp", "image/tiff": "tif"}
STAGING = ".augmented"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    format: str
    manifest_sha256: str
    files: int
    samples: int
    augmented: int
    export_id: int
    classes: tuple[str, ...] = ()
    left_out: dict[str, dict[str, int]] | None = None  # target type -> {"targets", "samples"} not written
    redrawn: int = 0  # augmented copies whose first draw applied no transform (drawn again)
    not_emitted: int = 0  # copies left out: no transform applied after every re-draw


def _ext(mime: str | None, path: Path) -> str:
    if mime in EXTENSIONS:
        return EXTENSIONS[mime]
    from PIL import Image

    with Image.open(path) as img:
        return (img.format or "bin").lower().replace("jpeg", "jpg")


def _load(store: Any, name: str) -> tuple[dict[str, Any], list[Sample], list[dict[str, Any]], dict[str, Any]]:
    with store.sessions() as session:
        version = q.version_by_name(session, name)
        if version is None:
            raise VersionNotFound(f"dataset version {name!r} does not exist; see `harvest dataset list`.")
        members = q.member_rows(session, version.id)
        listed = {v.id: (p, par) for v, _, p, par in q.list_versions(session)}
        labels = q.project_labels(session, version.project_id)
        revisions = _revision_refs(session, [i for m in members for i in (m.annotation_ids or [])])
    project, parent = listed.get(version.id, (None, None))
    info = {"name": version.name, "project": project, "parent": parent, "content_hash": version.content_hash,
            "seed": version.seed, "split_ratios": version.split_ratios, "group_by": version.group_by,
            "revision_rule": version.revision_rule, "policy_sha256": aug_hash(version.policy_text),
            "_policy": (version.policy_text, version.policy), "_labels": labels}
    samples, records = [], []
    ids = _export_ids(members)
    root = getattr(store.blobs, "root", None)
    for m, sid in zip(members, ids):
        record = {"id": sid, "split": m.split, "sha256": m.sha256, "labels": target_labels(m.targets),
                  "annotators": m.annotators,
                  "annotations": sorted(revisions[i] for i in (m.annotation_ids or []) if i in revisions),
                  **{k: m.provenance.get(k) for k in ("page_url", "fetched_at", "page_fetched_at", "licence",
                                                      "attribution", "robots_decision", "source")},
                  "source_url": m.provenance.get("image_url")}
        records.append(record)
        if m.sha256 is None:
            samples.append(Sample(sid, m.split, list(m.targets), text=m.text))
            continue
        missing = (f"the image of {m.sample_key} ({sid}, blob {m.sha256}) is missing from the blob store at "
                   f"{store.blobs.location}; restore the blob store before exporting.")
        try:  # the blob's own file, or (object storage) a verified copy in the data dir's cache
            path = _blob_file(store, m.sha256, root)
        except BlobNotFound:
            raise FormatError(missing) from None
        if not os.path.isfile(path):
            raise FormatError(missing)
        ext = _ext(m.mime, path)
        meta = {k: record[k] for k in ("licence", "attribution", "source_url", "page_url", "fetched_at")}
        samples.append(Sample(sid, m.split, list(m.targets), file_name=file_name_for(sid, m.sha256, ext),
                              source=path, sha256=m.sha256, width=m.width, height=m.height, meta=meta))
    return info, samples, records, dict(version.stats or {})


def _blob_file(store: Any, sha256: str, root: Path | None) -> Path | str:
    """Where a blob's bytes are on disk. A local store's file is found by its key alone (relpath checks the
    key; the export re-hashes every byte it reads, so a link or swap inside the store cannot slip through)."""
    if root is not None:
        return os.path.join(root, relpath(sha256))  # a str: thousands of Path objects cost more than the copy
    return local_copy(store.blobs, sha256, Path(store.settings.data_dir) / "cache" / "blobs")


def _export_ids(members: list[Any]) -> list[str]:
    """Each member's id in the export: its content key (never a database id). Two texts with the same
    key (same canonical URL or text) are told apart by their frozen targets, in content order."""
    keys = [member_content_key(m) for m in members]
    seen: dict[str, int] = {}
    for k in keys:
        seen[k] = seen.get(k, 0) + 1
    if all(n == 1 for n in seen.values()):
        return keys
    order = sorted(range(len(members)), key=lambda i: (keys[i], dumps(members[i].targets)))
    out, count = list(keys), {}
    for i in order:
        if seen[keys[i]] > 1:
            count[keys[i]] = count.get(keys[i], 0) + 1
            out[i] = f"{keys[i]}~{count[keys[i]]}"
    return out


def _revision_refs(session: Any, annotation_ids: list[int]) -> dict[int, list[int]]:
    """Annotation row id -> [Label Studio annotation id, revision]: what the manifest names (row ids are
    database ids, which differ between stores holding the same annotations)."""
    from sqlalchemy import select

    from storage.label_models import Annotation

    out: dict[int, list[int]] = {}
    for start in range(0, len(annotation_ids), 5000):
        chunk = annotation_ids[start:start + 5000]
        stmt = select(Annotation.id, Annotation.ls_annotation_id, Annotation.revision).where(Annotation.id.in_(chunk))
        out.update({i: [int(ls), int(rev)] for i, ls, rev in session.execute(stmt)})
    return out


def aug_hash(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text else None


def _augment(info: dict[str, Any], originals: list[Sample], records: list[dict[str, Any]], staging: Path,
             workers: int, tally: dict[str, int], progress: Progress | None = None
             ) -> tuple[list[Sample], list[dict[str, Any]]]:
    """Render the train copies; a copy on which no transform was applied (after re-draws) is not emitted."""
    text, record = info["_policy"]
    if not text:
        return [], []
    policy = aug.policy_of_version(text, record)
    train = [s for s in originals if s.split == "train" and s.source is not None]
    plan = aug.plan(policy, [s.targets for s in train])
    # seeds come from the content (the image's sha256), never from database ids: same bytes, same copies
    by_key = {seed_key(s.sha256): s for s in train}
    jobs = [(seed_key(s.sha256), s.source, s.targets, k) for s in train for k in range(aug.copies(plan, s.targets))]
    parent_of = {r["id"]: r for r in records}
    staging.mkdir()
    samples, out = [], []
    for done, r in enumerate(aug.render(jobs, policy, info["seed"], workers), 1):
        if progress is not None:
            progress("augment", done, len(jobs))
        tally["redrawn"] += int(bool(r.report.get("redrawn")))
        if r.report.get("unaugmented"):
            tally["not_emitted"] += 1
            continue
        sha = hashlib.sha256(r.data).hexdigest()
        parent = by_key[r.sample_id]
        sid = f"{parent.id}#aug{r.k}"
        fname = file_name_for(sid, sha, r.extension.lstrip("."))
        (staging / fname).write_bytes(r.data)
        row = parent_of[parent.id]
        samples.append(Sample(sid, "train", list(r.targets), file_name=fname, source=staging / fname, sha256=sha,
                              width=r.width, height=r.height,
                              meta={k: row.get(k) for k in ("licence", "attribution", "source_url", "page_url",
                                                               "fetched_at")}))
        report = {k: v for k, v in r.report.items() if k != "steps"}
        out.append({**row, "id": sid, "sha256": sha, "labels": target_labels(r.targets),
                    "augmented_from": parent.id, "policy_sha256": info["policy_sha256"], "seed": r.seed, "k": r.k,
                    "augment_report": report,
                    # written exactly (no rounding): enough to re-render the copy without drawing again
                    "replay": {"seed_key": r.sample_id, "source_sha256": parent.sha256, "source_targets": parent.targets,
                               "steps": r.report.get("steps", [])}})
    return samples, out


def _keypoint_options(info: dict[str, Any], samples: list[Sample]) -> dict[str, Any]:
    """Point order (the policy's labels.keypoints, else the project's label order) and the mirror swap map."""
    used = {n for s in samples for t in s.targets if t["type"] == "keypoints" for n in t["labels"]}
    if not used:
        return {}
    text, record = info["_policy"]
    policy = aug.policy_of_version(text, record) if text else None
    labels = getattr(policy, "labels", None)
    names = list(labels.keypoints) if labels is not None and labels.keypoints else \
        [n for n in dict.fromkeys(info["_labels"][0]) if n in used]
    return {"keypoint_names": names, "keypoint_swap": dict(labels.keypoint_swap) if labels is not None else {}}


def _blob_dirs(store: Any) -> tuple[Path, ...]:
    """Local folders of the blob store (its root on disk, the local copies of a remote one): no export goes there."""
    root = getattr(store.blobs, "root", None)
    return (Path(root),) if root is not None else (Path(store.settings.data_dir) / "cache" / "blobs",)


def export_version(store: Any, name: str, fmt: str, out_dir: str | Path, workers: int = 1, link: bool = False,
                   options: dict[str, Any] | None = None, strict: bool = False,
                   progress: Progress | None = None) -> ExportResult:
    """Write version `name` as `fmt` into the new directory `out_dir`; all or nothing.

    Targets the format cannot hold are counted in the result, the manifest and the data card;
    with `strict` the export is refused instead (before anything is written). `progress(stage, done,
    total)` is told how far the stages ("augment", "images") are. Originals are reflinked or copied and
    hashed as they are written (``link=True`` hard-links them into the blob store instead: faster, but
    editing an exported image would then edit the stored blob)."""
    format_ = get_format(fmt)
    out = check_out_dir(out_dir, keep_out=_blob_dirs(store))
    info, originals, records, stats = _load(store, name)
    texts = [s.id for s in originals if s.text is not None and s.file_name is None]
    if texts and not format_.text:
        raise FormatError(f"format {fmt!r} holds images only, but version {name!r} has {len(texts)} text samples "
                          f"(e.g. {texts[0]}); export it as jsonl, csv, hf-parquet or webdataset.")
    held = [t["type"] for s in originals for t in s.targets]
    if held and not any(kind in format_.kinds for kind in held):
        raise FormatError(f"format {fmt!r} holds {', '.join(sorted(format_.kinds))} targets, but version {name!r} has only "
                          f"{', '.join(sorted(set(held)))}; pick a format listed by `harvest dataset formats` that holds them.")
    dropped = left_out((s.targets for s in originals), format_.kinds, format_.rotated)
    if dropped and strict:
        raise FormatError(f"{describe_left_out(fmt, dropped)}; --strict refuses to leave them out. Export without "
                          f"--strict to drop them (the data card lists them), or choose a format that holds "
                          f"{', '.join(dropped)} (see `harvest dataset formats`).")
    info["_left_out"] = dropped
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    with locked_temp_dir(out) as tmp:
        return _write(store, name, fmt, format_, out, tmp, info, originals, records, stats, workers, link, options,
                      progress)


def _write(store: Any, name: str, fmt: str, format_: Any, out: Path, tmp: Path, info: dict[str, Any],
           originals: list[Sample], records: list[dict[str, Any]], stats: dict[str, Any], workers: int, link: bool,
           options: dict[str, Any] | None, progress: Progress | None = None) -> ExportResult:
    tally = {"redrawn": 0, "not_emitted": 0}
    augmented, aug_records = _augment(info, originals, records, tmp / STAGING, max(1, workers), tally, progress)
    samples = originals + augmented
    keypoint_options = _keypoint_options(info, samples)
    labels, template = info["_labels"]
    declared = list(keypoint_options.get("keypoint_names", ())) + (labels if template == "keypoints" else [])
    classes = class_order(labels, (t for s in samples for t in s.targets), format_.kinds, declared)
    ctx = Context(classes=classes, link=link, workers=max(1, workers), options={**keypoint_options, **(options or {})},
                  progress=progress)
    format_.write(samples, tmp, ctx)
    shutil.rmtree(tmp / STAGING, ignore_errors=True)
    all_records = records + aug_records
    header = {"harvest_manifest": 1, "format": fmt, "version": {k: v for k, v in info.items() if not k.startswith("_")},
              "classes": [{"id": i, "name": c} for i, c in enumerate(classes)], "left_out": info["_left_out"],
              "augmentation": replay_record(info["_policy"], len(augmented), tally)}
    if not (tmp / "README.md").exists():  # a format may write its own card header (hf-parquet's YAML)
        (tmp / "README.md").write_text("", encoding="utf-8")
    card = datacard(header["version"], fmt, all_records, stats, classes=classes, left_out=info["_left_out"],
                    augmentation=header["augmentation"])
    with (tmp / "README.md").open("a", encoding="utf-8") as fh:
        fh.write(card)
    manifest, files = write_manifest(tmp, header, all_records, ctx.known_hashes, ctx.workers)
    manifest_sha = sha256_file(manifest)
    renamed = False
    try:
        with session_scope(store.sessions) as session:
            version = q.version_by_name(session, name)
            row = q.add_export(session, version_id=version.id, format=fmt, path=str(out),
                               manifest_sha256=manifest_sha, file_count=files)
            if os.path.lexists(out):
                raise OutputPathError(f"output directory {out} appeared while exporting; nothing was written there. "
                                      "Choose a new directory.")
            os.rename(tmp, out)
            renamed = True
    except BaseException:
        if renamed:  # the commit failed after the rename: take the export back out
            shutil.rmtree(out, ignore_errors=True)
        raise
    return ExportResult(out, fmt, manifest_sha, files, len(samples), len(augmented), row.id, tuple(classes),
                        info["_left_out"], tally["redrawn"], tally["not_emitted"])
