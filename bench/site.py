"""The benchmarks' web site: generated photo-like JPEGs and an index page of <img> tags, served on 127.0.0.1.

`serve(images)` answers from an asyncio loop in a thread of the calling process with prebuilt responses
(`LoopServer`); `serve(images, threaded=True)` uses http.server's ThreadingHTTPServer instead.
`photo` is also used by tests as a deterministic photo-like image.
"""
from __future__ import annotations

import asyncio
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def photo(w: int = 1024, h: int = 768, seed: int = 0):
    """A smooth photo-like RGB image (gradients and discs), deterministic per seed (also used by tests)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        img[..., c] = 128 + 70 * np.sin(x / rng.uniform(20, 90) + rng.uniform(0, 6)) * np.cos(y / rng.uniform(20, 90))
    for _ in range(8):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(10, 120)
        img[((x - cx) ** 2 + (y - cy) ** 2) < r * r] = rng.uniform(0, 255, 3)
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def photo_jpeg(seed: int) -> bytes:
    out = io.BytesIO()
    photo(seed=seed).save(out, "JPEG", quality=88)
    return out.getvalue()


def site_pages(images: list[bytes]) -> dict[str, tuple[bytes, str]]:
    """The served site: an index page of <img> tags and the JPEGs (every other path is a 404)."""
    links = "".join(f'<img src="/img/{i}.jpg">' for i in range(len(images)))
    pages = {"/": (f"<html><body>{links}</body></html>".encode(), "text/html")}
    pages.update({f"/img/{i}.jpg": (body, "image/jpeg") for i, body in enumerate(images)})
    return pages


class _Answers(asyncio.Protocol):
    """HTTP/1.1 GETs on a kept-alive connection, each answered with a response built before the bench."""

    def __init__(self, answers: dict[str, bytes], missing: bytes) -> None:
        self.answers, self.missing, self.buffer = answers, missing, b""

    def connection_made(self, transport) -> None:
        self.transport = transport  # asyncio sets TCP_NODELAY on TCP connections

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head, self.buffer = self.buffer[:end], self.buffer[end + 4:]
            words = head.split(b"\r\n", 1)[0].split()
            self.transport.write(self.answers.get(words[1].decode() if len(words) > 1 else "", self.missing))
            if b"\r\nconnection: close" in head.lower():
                self.transport.close()
                return


class LoopServer:
    """The bench's web server (default): asyncio in a thread of the bench's process, every response prebuilt.

    A real site's server does not run on the crawler's machine. This one does, on the same cores as
    the crawl, so what it spends per image is taken from the crawl measured: 0.1-0.14 ms of CPU per
    image here, against 0.35-0.6 ms for http.server's ThreadingHTTPServer (`--threaded-server`). Both
    kinds of crawl ran faster with this one; their ratio hardly moved."""

    def __init__(self, pages: dict[str, tuple[bytes, str]]) -> None:
        def answer(status: str, body: bytes, ctype: str) -> bytes:
            return (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
                    .encode() + body)

        answers = {path: answer("200 OK", body, ctype) for path, (body, ctype) in pages.items()}
        missing = answer("404 Not Found", b"", "text/plain")
        self.loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(self.loop.create_server(
                lambda: _Answers(answers, missing), "127.0.0.1", 0, backlog=256))
            started.set()
            self.loop.run_forever()
            self.server.close()
            self.loop.run_until_complete(self.server.wait_closed())
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not started.wait(30):
            raise SystemExit("the bench's web server did not start")
        self.server_address = self.server.sockets[0].getsockname()

    def shutdown(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)


def threaded_server(pages: dict[str, tuple[bytes, str]]) -> ThreadingHTTPServer:
    """http.server's ThreadingHTTPServer, a thread per connection (`--threaded-server`)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body are two writes: with Nagle's algorithm the body of a small answer (the index
        # page) waited for the crawler's delayed ACK, 40 ms added to every crawl of every kind
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802
            body, ctype = pages.get(self.path, (None, "text/plain"))
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            if body:
                self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the default backlog of 5 drops connections under concurrency

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve(images: list[bytes], threaded: bool = False) -> tuple[LoopServer | ThreadingHTTPServer, str]:
    pages = site_pages(images)
    server = threaded_server(pages) if threaded else LoopServer(pages)
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
