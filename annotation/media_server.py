"""The harvest media endpoint: signed image URLs for a Label Studio on another machine.

GET /media/<sha256>.<ext>?exp=<unix>&sig=<hex> serves one blob. Checks, in order: the name has the
shape of a media name (else 404, before anything else); the signature is present, unexpired and right
(else 403, nothing served); the asset is known, the extension is its mime's, the blob is on disk (else
404). The blob is read through the blob store interface (a file from the local backend, a stream from
S3), which only accepts sha256 keys, so no request can name a path outside the store. Browsers load `<img src>` without custom headers: the URL is the credential.
"""
from __future__ import annotations

import re
import time

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from annotation.media import extension, valid
from storage.collect_models import Asset
from storage.engine import session_scope
from storage.errors import BlobNotFound

NAME = re.compile(r"^([0-9a-f]{64})(\.[0-9a-z]{1,8})$")
CACHE = 100_000  # sha256 -> mime entries kept in memory
MAX_AGE = 7 * 86400  # browsers may keep an image this long (capped by the URL's own expiry)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers={"Cache-Control": "no-store"})


def etag_matches(header: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison of an If-None-Match header against `etag` (quoted)."""
    if not header:
        return False
    candidates = [c.strip() for c in header.split(",")]
    return "*" in candidates or any(c.removeprefix("W/") == etag for c in candidates)


def _chunks(body, size: int = 1 << 16):
    """The blob stream in pieces (iterated in a worker thread by Starlette), closed at the end."""
    with body:
        while chunk := body.read(size):
            yield chunk


def create_app(store, secret: str, *, mime_cache: dict[str, str] | None = None) -> Starlette:
    """The ASGI app: GET/HEAD /media/<sha256>.<ext> (signed), GET /health."""
    # sha256 -> mime of known assets (an asset never changes once stored); shared by the worker threads
    mimes: dict[str, str] = mime_cache if mime_cache is not None else {}

    def mime_of(sha256: str) -> str | None:  # runs in several threads: never read back what was just stored
        mime = mimes.get(sha256)
        if mime is None:
            with session_scope(store.sessions) as session:
                mime = session.scalar(select(Asset.mime).where(Asset.sha256 == sha256).limit(1))
            if mime is None:
                return None
            if len(mimes) >= CACHE:
                mimes.clear()
            mimes[sha256] = mime
        return mime

    def media(request: Request) -> Response:  # sync: runs in the thread pool, off the event loop
        name = request.path_params["name"]
        match = NAME.match(name)
        if match is None:
            return _error(404, "not found: expected /media/<sha256>.<ext>")
        exp, sig = request.query_params.get("exp"), request.query_params.get("sig")
        now = time.time()
        if not valid(secret, name, exp, sig, now):
            return _error(403, "missing, expired or wrong signature: ask harvest for a fresh URL "
                               "(`harvest label push` signs them)")
        sha256, ext = match.groups()
        mime = mime_of(sha256)
        if mime is None or extension(mime) != ext:
            return _error(404, f"no image {name} in this harvest store")
        missing = f"image {name} is recorded but its blob is missing from the blob store"
        path = store.blobs.local_path(sha256)  # validates the key; never outside the blob root
        if path is not None and not path.is_file():
            return _error(404, missing)
        etag = f'"{sha256}"'
        headers = {"ETag": etag, "X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*",
                   "Content-Security-Policy": "sandbox",  # an SVG opened directly runs no script
                   "Cache-Control": f"private, max-age={max(0, min(MAX_AGE, int(exp) - int(now)))}, immutable"}
        if etag_matches(request.headers.get("if-none-match"), etag):
            return Response(status_code=304, headers=headers)
        if path is not None:
            return FileResponse(path, media_type=mime, headers=headers)
        try:
            body = store.blobs.open(sha256)
        except BlobNotFound:
            return _error(404, missing)
        if request.method == "HEAD":
            body.close()
            return Response(status_code=200, media_type=mime, headers=headers)
        return StreamingResponse(_chunks(body), media_type=mime, headers=headers)

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/media/{name}", media, methods=["GET", "HEAD"]), Route("/health", health)])
