"""How images reach the annotator's browser: Label Studio's local-files serving.

Label Studio runs with LOCAL_FILES_DOCUMENT_ROOT covering harvest's data dir (by default equal to
it). Blobs have no file extension, and Label Studio derives the Content-Type from the name (an
extension-less file goes out as application/octet-stream with nosniff), so each pushed image is
hard-linked (copied across file systems) to `<data_dir>/ls-files/<sha256>.<ext>` and referenced as
`/data/local-files/?d=<path of that file under the document root>`. A local-files storage on each project covering
`<data_dir>/ls-files` grants the read permission; it is never synced, so it creates no tasks.
"""
from __future__ import annotations

import mimetypes
import os
import shutil
from pathlib import Path
from urllib.parse import quote

from annotation.errors import MediaError

FOLDER = "ls-files"

EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
       "image/bmp": ".bmp", "image/tiff": ".tif", "image/avif": ".avif"}


def extension(mime: str) -> str:
    return EXT.get(mime) or mimetypes.guess_extension(mime) or ".bin"


def files_dir(data_dir: Path) -> Path:
    return Path(data_dir).resolve() / FOLDER


def publish(blobs: list[tuple[str, str, str]], data_dir: Path, document_root: Path) -> list[str]:
    """Link each (blob path, sha256, mime) under ls-files/ (idempotent); return paths relative to the root.

    Paths are computed once per call, and the folder is listed once, so 5,000 images cost one scan.
    """
    folder = files_dir(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        prefix = folder.relative_to(Path(document_root).resolve()).as_posix()
    except ValueError:
        raise MediaError(
            f"{folder} is outside Label Studio's LOCAL_FILES_DOCUMENT_ROOT {document_root}; start Label Studio "
            "with a document root covering harvest's data dir and set [labelstudio] document_root to it."
        ) from None
    present = set(os.listdir(folder))
    base = str(folder)
    out = []
    for blob_path, sha256, mime in blobs:
        name = f"{sha256}{extension(mime)}"
        if name not in present:
            target = os.path.join(base, name)
            try:
                os.link(blob_path, target)  # atomic: the name appears complete or not at all
            except FileExistsError:
                pass
            except OSError:  # another file system: copy to a temp name, then rename into place
                tmp = os.path.join(base, f".{name}.tmp")
                shutil.copyfile(blob_path, tmp)
                os.replace(tmp, target)
            present.add(name)
        out.append(f"{prefix}/{name}")
    return out


def local_url(relpath: str) -> str:
    return f"/data/local-files/?d={quote(relpath)}"
