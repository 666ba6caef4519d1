"""WebDataset tar shards: <split>-NNNNNN.tar, each sample as <key>.<ext> image, <key>.json, <key>.txt.

Members are sorted; mtime, uid, gid, owner names and modes are fixed, so shards are byte-identical.
"""
from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from export.canonical import dumps
from export.formats.base import SPLITS, Context, Format, ReadSample, Sample, by_split, safe_part, sha256_bytes
from storage.targets import TYPES, target_labels

SHARD_SIZE = 1000


def _key(s: Sample) -> str:
    return safe_part(s.file_name.rsplit(".", 1)[0] if s.file_name else s.id.replace(":", "-")).replace(".", "_")


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
    for split, items in by_split(samples).items():
        for shard, start in enumerate(range(0, len(items), size)):
            path = out / f"{split}-{shard:06d}.tar"
            with path.open("wb") as fh, tarfile.open(fileobj=fh, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for s in items[start:start + size]:
                    key = _key(s)
                    meta = {"id": s.id, "split": s.split, "width": s.width, "height": s.height,
                            "labels": sorted(set(target_labels(s.targets))), "targets": s.targets}
                    if s.file_name:
                        _add(tar, f"{key}.{s.file_name.rsplit('.', 1)[1].lower()}", s.image_bytes())
                    _add(tar, f"{key}.json", (dumps(meta) + "\n").encode())
                    if s.text is not None:
                        _add(tar, f"{key}.txt", s.text.encode())


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
                out.append(ReadSample(meta["id"], split, meta["targets"], sha256_bytes(image) if image else None,
                                      text.decode() if text is not None else None))
    return out


FORMATS = [Format("webdataset", "WebDataset tar shards (any task, text included)", frozenset(TYPES), write, read,
                  text=True)]
