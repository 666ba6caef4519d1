"""Signed harvest media URLs: the ASGI endpoint (unit, TestClient) and push to a real Label Studio reading them."""
from __future__ import annotations

import stat
import threading
import time

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from starlette.testclient import TestClient

from annotation import create_project, push
from annotation.config import LabelStudioConfig
from annotation.media import expiry, media_secret, signature, signed_url
from annotation.media_server import create_app
from annotation.webhook import serve, webhook_secret
from storage.collect_models import Asset
from storage.engine import session_scope
from storage.label_models import Task
from tests.annotation.conftest import add_images
from tests.labelstudio import free_port, wait_for

SECRET = "media-secret-for-tests-0123456789"


def asset_rows(store, ids: list[int]) -> list[tuple[str, str]]:
    with session_scope(store.sessions) as session:
        return [(a.sha256, a.mime) for a in (session.get(Asset, i) for i in ids)]


@pytest.fixture
def media(sqlite_store):
    """(TestClient on the media app, sha256 and bytes of one stored PNG, the store)."""
    [asset_id] = add_images(sqlite_store, [(40, 30)])
    [(sha, mime)] = asset_rows(sqlite_store, [asset_id])
    assert mime == "image/png"
    with TestClient(create_app(sqlite_store, SECRET)) as client:
        yield client, sha, sqlite_store.blobs.get(sha), sqlite_store


def test_good_signature_serves_the_exact_bytes_with_type_etag_and_cache(media):
    client, sha, data, _ = media
    exp = int(time.time()) + 3600
    url = signed_url("http://testserver", SECRET, sha, "image/png", exp)
    assert url == f"http://testserver/media/{sha}.png?exp={exp}&sig={signature(SECRET, f'{sha}.png', exp)}"
    response = client.get(url)
    assert response.status_code == 200 and response.content == data
    assert response.headers["content-type"] == "image/png"
    assert response.headers["etag"] == f'"{sha}"' and response.headers["x-content-type-options"] == "nosniff"
    cache = response.headers["cache-control"]
    assert "private" in cache and "immutable" in cache
    assert 3500 <= int(cache.split("max-age=")[1].split(",")[0]) <= 3600  # capped by the URL's own expiry
    head = client.head(url)
    assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == str(len(data))


@pytest.mark.parametrize("query", [
    "",  # no signature at all
    "exp={exp}",  # exp without sig
    "sig={sig}",  # sig without exp
    "exp={exp}&sig={bad}",  # wrong signature
    "exp={exp}&sig={sig_upper}",  # the hex is compared exactly
    "exp={later}&sig={sig}",  # exp changed after signing
    "exp={past}&sig={sig_past}",  # correctly signed but expired
    "exp=-1&sig={sig}",
    "exp=abc&sig={sig}",
])
def test_missing_bad_or_expired_signature_is_403_and_serves_nothing(media, query):
    client, sha, data, _ = media
    name = f"{sha}.png"
    exp, past = int(time.time()) + 600, int(time.time()) - 5
    sig = signature(SECRET, name, exp)
    values = {"exp": exp, "sig": sig, "bad": signature("another-secret", name, exp), "sig_upper": sig.upper(),
              "later": exp + 86400, "past": past, "sig_past": signature(SECRET, name, past)}
    response = client.get(f"/media/{name}?{query.format(**values)}")
    assert response.status_code == 403
    assert data not in response.content and response.headers["content-type"] == "application/json"
    assert "etag" not in response.headers and response.headers["cache-control"] == "no-store"


def test_a_signature_for_one_image_does_not_open_another(media):
    client, sha, _, store = media
    [other_id] = add_images(store, [(8, 8)])
    [(other, _)] = asset_rows(store, [other_id])
    exp = int(time.time()) + 600
    assert client.get(f"/media/{other}.png?exp={exp}&sig={signature(SECRET, f'{sha}.png', exp)}").status_code == 403
    assert client.get(signed_url("", SECRET, other, "image/png", exp)).content == store.blobs.get(other)


@pytest.mark.parametrize("name", [
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "..%2Fdata%2Fharvest.db",
    "%2E%2E",
    "{sha_upper}.png",  # keys are lowercase hex only
    "{sha_short}.png",
    "{sha}",  # no extension
    "{sha}.png.png",
    "{sha}.p/ng",
    "blobs.png",
])
def test_names_that_are_not_sha256_keys_are_404(media, name):
    client, sha, data, _ = media
    name = name.format(sha=sha, sha_upper=sha.upper(), sha_short=sha[:63])
    exp = int(time.time()) + 600
    response = client.get(f"/media/{name}?exp={exp}&sig={signature(SECRET, name, exp)}")  # even when signed
    assert response.status_code == 404 and data not in response.content


def test_unknown_sha_wrong_extension_or_missing_blob_is_404_even_when_signed(media):
    client, sha, data, store = media
    exp = int(time.time()) + 600
    unknown = "0" * 64
    assert client.get(signed_url("", SECRET, unknown, "image/png", exp)).status_code == 404
    wrong_ext = client.get(signed_url("", SECRET, sha, "image/jpeg", exp))  # the asset is a PNG
    assert wrong_ext.status_code == 404 and data not in wrong_ext.content
    store.blobs.path(sha).unlink()  # recorded in SQL, gone from disk
    assert client.get(signed_url("", SECRET, sha, "image/png", exp)).status_code == 404


def test_etag_and_if_none_match_give_304_without_body(media):
    client, sha, data, _ = media
    url = signed_url("", SECRET, sha, "image/png", int(time.time()) + 600)
    for header in (f'"{sha}"', f'W/"{sha}"', f'"nope", "{sha}"', "*"):
        response = client.get(url, headers={"If-None-Match": header})
        assert response.status_code == 304 and response.content == b"", header
        assert response.headers["etag"] == f'"{sha}"'
    stale = client.get(url, headers={"If-None-Match": '"0000"'})
    assert stale.status_code == 200 and stale.content == data
    tampered = client.get(url[:-1] + ("0" if url[-1] != "0" else "1"), headers={"If-None-Match": f'"{sha}"'})
    assert tampered.status_code == 403  # the signature is checked before the cache validator


def test_media_secret_generated_once_0600_shared_helper_and_config_wins(sqlite_settings):
    first = media_secret(sqlite_settings)
    assert len(first) >= 32 and media_secret(sqlite_settings) == first
    path = sqlite_settings.data_dir.resolve() / "labelstudio" / "media_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text() == first
    hook = webhook_secret(sqlite_settings)  # the same helper, its own file
    assert hook != first and webhook_secret(sqlite_settings) == hook
    configured = sqlite_settings.model_copy(update={"labelstudio": sqlite_settings.labelstudio.model_copy(
        update={"media_secret": SecretStr("from-config-secret")})})
    assert media_secret(configured) == "from-config-secret"


def test_expiry_and_config():
    now = 1_800_000_123.0
    exp = expiry(365, now)
    assert exp % 86400 == 0 and now + 365 * 86400 <= exp < now + 366 * 86400
    assert expiry(365, now + 60) == exp  # same day, same URL
    assert LabelStudioConfig(media_url="http://harvest-host:8098/").media_url == "http://harvest-host:8098"
    assert LabelStudioConfig().media_url is None and LabelStudioConfig().media_ttl_days == 365
    with pytest.raises(ValidationError, match="media_url"):
        LabelStudioConfig(media_url="harvest-host:8098")
    with pytest.raises(ValidationError):
        LabelStudioConfig(media_ttl_days=0)


@pytest.fixture
def media_endpoint(label_studio, tmp_path, sqlite_url, monkeypatch):
    """A store whose [labelstudio] media_url points at the media app served by uvicorn on 127.0.0.1."""
    from harvest.store import open_store
    from tests.conftest import make_settings

    monkeypatch.chdir(tmp_path)
    port = free_port()
    settings = make_settings(tmp_path, sqlite_url, labelstudio={
        "url": label_studio.url, "token": label_studio.token,
        "document_root": str(label_studio.config.document_root), "media_url": f"http://127.0.0.1:{port}"})
    store = open_store(settings)
    server = serve(create_app(store, media_secret(settings)), "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 15, "media server start")
    yield store
    server.should_exit = True
    thread.join(10)
    store.close()


@pytest.mark.labelstudio
def test_push_with_media_url_gives_signed_urls_that_serve_the_asset(media_endpoint, ls_client):
    store = media_endpoint
    ids = add_images(store, [(48, 36), (20, 10)])
    project = create_project(store, "media-remote", "object-detection", ["cat", "dog"])
    assert push(store, "media-remote").imported == 2
    base = store.settings.labelstudio.media_url
    with session_scope(store.sessions) as session:
        tasks = {t.asset_id: t.ls_task_id for t in session.query(Task).filter_by(project_id=project.id)}
    for asset_id, (sha, _) in zip(ids, asset_rows(store, ids)):
        url = ls_client.get_task(tasks[asset_id])["data"]["image"]  # as Label Studio hands it to the browser
        assert url.startswith(f"{base}/media/{sha}.png?exp=") and "&sig=" in url
        response = httpx.get(url)  # no credentials: the URL is the credential
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert response.content == store.blobs.get(sha)
        sig = url.rsplit("sig=", 1)[1]
        tampered = url[: -len(sig)] + sig[::-1]
        assert httpx.get(tampered).status_code == 403
    assert not (store.settings.data_dir.resolve() / "ls-files").exists() or not any(
        (store.settings.data_dir.resolve() / "ls-files").iterdir())  # no local-files links made for this push


class ClearedByAnotherThread(dict):
    """A mime cache that another request thread clears right after each store (the race, made certain)."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.clear()


def test_mime_cache_cleared_by_another_thread_still_serves(sqlite_store):
    [asset_id] = add_images(sqlite_store, [(12, 9)])
    [(sha, _)] = asset_rows(sqlite_store, [asset_id])
    url = signed_url("http://testserver", SECRET, sha, "image/png", int(time.time()) + 600)
    with TestClient(create_app(sqlite_store, SECRET, mime_cache=ClearedByAnotherThread())) as client:
        response = client.get(url)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content == sqlite_store.blobs.get(sha)
