"""The webhook receiver over real HTTP on 127.0.0.1: bodies over the limit get 413 while streaming (it
stops reading, it does not buffer), malformed or too deeply nested JSON gets 400, signed payloads are
refused outside the time window or when replayed, and the signed-only mode refuses the static header."""
from __future__ import annotations

import json
import select
import socket
import time

import httpx
import pytest

from annotation.webhook import HEADER, create_app
from annotation.webhook_guard import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from tests.annotation.conftest import serving

SECRET = "hook-secret-4f9a"
LIMIT = 64 * 1024


@pytest.fixture
def hook(sqlite_store):
    with serving(create_app(sqlite_store, SECRET, users={}, max_bytes=LIMIT, window=60)) as port:
        yield port


def _post(port: int, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{port}/hook", content=body,
                      headers={"Content-Type": "application/json", **headers}, timeout=30)


def test_body_over_the_limit_is_413_as_soon_as_it_is_declared(hook):
    r = _post(hook, b"x" * (LIMIT + 1), {HEADER: SECRET})
    assert r.status_code == 413 and str(LIMIT) in r.json()["error"]
    # a 300 MB declaration is refused from the header: the answer comes before any body is sent
    with socket.create_connection(("127.0.0.1", hook), timeout=10) as s:
        s.sendall(f"POST /hook HTTP/1.1\r\nHost: x\r\n{HEADER}: {SECRET}\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {300 * 1024 * 1024}\r\n\r\n".encode())
        assert s.recv(200).startswith(b"HTTP/1.1 413")


def test_chunked_body_is_cut_off_while_streaming(hook):
    """Chunks are sent until the server answers: it must answer 413 after about LIMIT bytes, not wait
    for (and hold) the 50 x LIMIT the client would send."""
    chunk = b"[" * 4096
    sent = 0
    with socket.create_connection(("127.0.0.1", hook), timeout=10) as s:
        s.sendall(f"POST /hook HTTP/1.1\r\nHost: x\r\n{HEADER}: {SECRET}\r\nContent-Type: application/json\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n".encode())
        answer = b""
        deadline = time.monotonic() + 30
        while sent < 50 * LIMIT and time.monotonic() < deadline:
            try:
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the server closed the connection after answering
                break
            sent += len(chunk)
            if select.select([s], [], [], 0.01)[0]:
                break
        s.settimeout(10)
        answer = s.recv(200)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert sent <= LIMIT + 16 * len(chunk)  # stopped near the limit (socket buffers hold a little more)


@pytest.mark.parametrize(("body", "expect"), [
    (b"{not json", "not JSON"),
    (b"\xff\xfe{}", "not JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "deeper than"),
    (b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", "deeper than"),
])
def test_malformed_or_deeply_nested_json_is_400(hook, body, expect):
    r = _post(hook, body, {HEADER: SECRET})
    assert r.status_code == 400 and expect in r.json()["error"]


def _signed(body: bytes, at: float, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(at))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: sign(secret, ts, body)}


def test_signed_payloads_window_and_replay(hook):
    body = json.dumps({"action": "PING", "project": {"id": 999999}}).encode()
    now = time.time()
    fresh = _signed(body, now)
    assert _post(hook, body, fresh).status_code == 200
    again = _post(hook, body, fresh)
    assert again.status_code == 401 and "replay" in again.json()["error"]
    old = _post(hook, body, _signed(body, now - 3600))
    assert old.status_code == 401 and "window" in old.json()["error"]
    future = _post(hook, body, _signed(body, now + 3600))
    assert future.status_code == 401
    forged = _post(hook, body, _signed(body, now + 1, secret="not-the-secret"))
    assert forged.status_code == 401 and "wrong" in forged.json()["error"]
    tampered = _signed(body, now + 2)
    assert _post(hook, body.replace(b"PING", b"PONG"), tampered).status_code == 401
    assert _post(hook, body, {HEADER: SECRET}).status_code == 200  # the static mode Label Studio uses


def test_signed_only_mode_refuses_the_static_header(sqlite_store):
    with serving(create_app(sqlite_store, SECRET, users={}, signed_only=True)) as port:
        body = b'{"action": "PING"}'
        static = _post(port, body, {HEADER: SECRET})
        assert static.status_code == 401 and "signed payloads only" in static.json()["error"]
        assert _post(port, body, _signed(body, time.time())).status_code == 200
