"""WebDataset tar shards: <split>-NNNNNN.tar, each sample as <key>.<ext> image (or <key>.txt text) and <key>.json.

Every .json has the same keys with the same types, whatever the sample holds (so Hugging Face's
`load_dataset("webdataset")`, which infers one schema from the first samples, reads every shard):
id, split, width, height (ints, 0 for text), text ("" for images), labels (class names), label_ids
(class ids of classes.txt), and targets (every internal target, as a JSON string). A README header
declares the splits for `load_dataset(EXPORT_DIR)`. Members are sorted; mtime, uid, gid, owner
names and modes are fixed, so shards are byte-identical.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from export.canonical import dumps
from export.formats.base import SPLITS, Context, Format, ReadSample, Sample, by_split, labels_file, safe_part, sha256_bytes
from export.formats.hfcard import card_header
from storage.targets import TYPES, target_labels

SHARD_SIZE = 1000


def _key(s: Sample) -> str:
    """A shard key without dots: the image's file stem, or (a text) a hash of its content-keyed id."""
    if s.file_name:
        return safe_part(s.file_name.rsplit(".", 1)[0]).replace(".", "_")
    return f"text-{sha256_bytes(s.id.encode())[:24]}"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write(samples: list[Sample], out: Path, ctx: Context) -> None:
    size = int(ctx.options.get("shard_size", SHARD_SIZE))
    index = {c: i for i, c in enumerate(ctx.classes)}
    splits: dict[str, tuple[str, int, int]] = {}
    for split, items in by_split(samples).items():
        for shard, start in enumerate(range(0, len(items), size)):
            path = out / f"{split}-{shard:06d}.tar"
            with path.open("wb") as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for s in items[start:start + size]:
                    key = _key(s)
                    labels = sorted(set(target_labels(s.targets)), key=lambda n: (index.get(n, len(index)), n))
                    meta = {"id": s.id, "split": s.split, "width": int(s.width or 0), "height": int(s.height or 0),
                            "text": s.text or "", "labels": labels, "label_ids": [index.get(n, -1) for n in labels],
                            "targets": dumps(s.targets)}
                    if s.file_name:
                        _add(tar, f"{key}.{s.file_name.rsplit('.', 1)[1].lower()}", s.image_bytes())
                    _add(tar, f"{key}.json", (dumps(meta) + "\n").encode())
                    if s.text is not None:
                        _add(tar, f"{key}.txt", s.text.encode())
        if items:
            splits[split] = (f"{split}-*.tar", len(items), sum(p.stat().st_size for p in out.glob(f"{split}-*.tar")))
    (out / "classes.txt").write_text(labels_file(ctx.classes), encoding="utf-8")
    (out / "README.md").write_text(card_header(splits, None), encoding="utf-8")


def read(root: Path) -> list[ReadSample]:
    out = []
    for split in SPLITS:
        for shard in sorted(root.glob(f"{split}-*.tar")):
            groups: dict[str, dict[str, bytes]] = {}
            with tarfile.open(shard) as tar:
                for member in tar.getmembers():
                    key, _, ext = member.name.partition(".")
                    groups.setdefault(key, {})[ext] = tar.extractfile(member).read()
            for key in sorted(groups):
                parts = groups[key]
                meta = json.loads(parts.pop("json"))
                text = parts.pop("txt", None)
                image = next(iter(parts.values()), None)
                out.append(ReadSample(meta["id"], split, json.loads(meta["targets"]), sha256_bytes(image) if image else None,
                                      text.decode() if text is not None else None))
    return out


FORMATS = [Format("webdataset", "WebDataset tar shards (any task, text included)", frozenset(TYPES), write, read,
                  text=True)]
