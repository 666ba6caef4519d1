"""Small local test sites served over HTTP on 127.0.0.1 (a free port), with every request recorded.

A site is a dict {path: Page | callable(path) -> Page | None}; pages carry an ETag and answer a matching
If-None-Match with 304, as static web servers do.
"""
from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


@dataclass
class Page:
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def html(text: str, status: int = 200) -> Page:
    return Page(text.encode(), status=status)


def png(seed: int, size: tuple[int, int] = (64, 48)) -> Page:
    """A distinct PNG per seed (a gradient, so perceptual hashes differ too)."""
    img = Image.new("RGB", size)
    img.putdata([((x * 7 + seed * 37) % 256, (y * 11 + seed * 53) % 256, (x * y + seed * 91) % 256)
                 for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    img.save(out, "PNG")
    return Page(out.getvalue(), "image/png")


Route = Page | Callable[[str], Page | None]


class Server:
    def __init__(self, routes: dict[str, Route], fallback: Callable[[str], Page | None] | None = None) -> None:
        self.routes, self.fallback = routes, fallback
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status answered)
        self.lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def paths(self, status: int | None = None) -> list[str]:
        with self.lock:
            return [p for _, p, s in self.requests if status is None or s == status]

    def mark(self) -> int:
        with self.lock:
            return len(self.requests)

    def since(self, mark: int) -> list[tuple[str, str, int]]:
        with self.lock:
            return list(self.requests[mark:])

    def page(self, path: str) -> Page | None:
        route = self.routes.get(path.split("?", 1)[0], None)
        if route is None and self.fallback is not None:
            return self.fallback(path)
        return route(path) if callable(route) else route


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            page = server.page(self.path) or Page(b"<h1>not found</h1>", status=404)
            etag = '"' + hashlib.sha256(page.body).hexdigest()[:16] + '"'
            status = page.status
            if status == 200 and self.headers.get("If-None-Match") == etag:
                status = 304
            with server.lock:
                server.requests.append(("GET", self.path, status))
            self.send_response(status)
            self.send_header("Content-Type", page.content_type)
            if page.status == 200:
                self.send_header("ETag", etag)
            for name, value in page.headers.items():
                self.send_header(name, value)
            body = b"" if status == 304 else page.body
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve(routes: dict[str, Route], fallback: Callable[[str], Page | None] | None = None) -> Iterator[Server]:
    server = Server(routes, fallback)
    server.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.httpd.daemon_threads = True
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
