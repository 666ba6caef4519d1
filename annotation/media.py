"""How images reach the annotator's browser: Label Studio's local files, or signed harvest media URLs.

`image_urls` picks one: with `[labelstudio] media_url` set, each task gets
`<media_url>/media/<sha256>.<ext>?exp=<unix>&sig=<hex>`, served by `harvest label media`
(annotation/media_server.py), where sig = HMAC-SHA256(media secret, "<sha256>.<ext>:<exp>"). Otherwise:

Label Studio runs with LOCAL_FILES_DOCUMENT_ROOT covering harvest's data dir (by default equal to
it). Blobs have no file extension, and Label Studio derives the Content-Type from the name (an
extension-less file goes out as application/octet-stream with nosniff), so each pushed image is
hard-linked (copied across file systems) to `<data_dir>/ls-files/<sha256>.<ext>` and referenced as
`/data/local-files/?d=<path of that file under the document root>`. A local-files storage on each project covering
`<data_dir>/ls-files` grants the read permission; it is never synced, so it creates no tasks.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import mimetypes
import os
import shutil
import time
from pathlib import Path
from urllib.parse import quote

from annotation.connect import document_root
from annotation.errors import MediaError
from annotation.secret_file import stored_secret
from storage.blobs import BlobStore

FOLDER = "ls-files"

EXT = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
       "image/bmp": ".bmp", "image/tiff": ".tif", "image/avif": ".avif"}


def extension(mime: str) -> str:
    return EXT.get(mime) or mimetypes.guess_extension(mime) or ".bin"


def files_dir(data_dir: Path) -> Path:
    return Path(data_dir).resolve() / FOLDER


def publish(blobs: list[tuple[str | None, str, str]], data_dir: Path, document_root: Path,
            store=None) -> list[str]:
    """Link each (blob path, sha256, mime) under ls-files/ (idempotent); return paths relative to the root.

    A blob without a local file (path None: an S3 blob store) is copied from `store`'s blob interface.

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
            if blob_path is None:
                _fetch(store, sha256, base, name)
                present.add(name)
                out.append(f"{prefix}/{name}")
                continue
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


def _fetch(store, sha256: str, base: str, name: str) -> None:
    """Copy a blob from the blob store (no local file) to `base/name`: temp name, then rename."""
    tmp = os.path.join(base, f".{name}.tmp")
    with store.blobs.open(sha256) as stream, open(tmp, "wb") as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    os.replace(tmp, os.path.join(base, name))


def local_url(relpath: str) -> str:
    return f"/data/local-files/?d={quote(relpath)}"


def media_secret(settings) -> str:
    """`[labelstudio] media_secret`, else one generated once into <data_dir>/labelstudio/ (0600)."""
    return stored_secret(Path(settings.data_dir), "media_secret", settings.labelstudio.media_secret)


def signature(secret: str, name: str, exp: int) -> str:
    """HMAC-SHA256(secret, "<sha256>.<ext>:<exp>") in hex."""
    return hmac.new(secret.encode(), f"{name}:{exp}".encode(), hashlib.sha256).hexdigest()


def expiry(ttl_days: int, now: float | None = None) -> int:
    """`now` + ttl, rounded up to a whole UTC day, so URLs signed the same day are identical (cacheable)."""
    moment = (time.time() if now is None else now) + ttl_days * 86400
    return math.ceil(moment / 86400) * 86400


def signed_url(base: str, secret: str, sha256: str, mime: str, exp: int) -> str:
    name = f"{sha256}{extension(mime)}"
    return f"{base.rstrip('/')}/media/{name}?exp={exp}&sig={signature(secret, name, exp)}"


def valid(secret: str, name: str, exp: str | None, sig: str | None, now: float | None = None) -> bool:
    """Whether `sig` signs `name` until `exp` and `exp` has not passed (constant-time comparison)."""
    if not exp or not sig or not exp.isdigit() or len(exp) > 12:
        return False
    if int(exp) < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(sig.encode(), signature(secret, name, int(exp)).encode())


def image_urls(store, assets) -> list[str]:
    """The task image URL of each asset: signed media URLs if `media_url` is set, else local files."""
    settings = store.settings
    cfg = settings.labelstudio
    if cfg.media_url:
        secret, exp = media_secret(settings), expiry(cfg.media_ttl_days)
        return [signed_url(cfg.media_url, secret, a.sha256, a.mime, exp) for a in assets]
    root = str(store.blobs.root) if isinstance(store.blobs, BlobStore) else None  # else: no local files
    blobs = []
    for a in assets:
        rel = store.blobs.relpath(a.sha256)  # checks the key
        blobs.append((os.path.join(root, rel) if root is not None else None, a.sha256, a.mime))
    return [local_url(rel) for rel in publish(blobs, Path(settings.data_dir), document_root(settings), store)]
