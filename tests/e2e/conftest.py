"""End-to-end fixtures: the real Label Studio server, a SQLite harvest store wired to it, the webhook
receiver on 127.0.0.1, and the system chromium (a screenshot of every open page when a test fails)."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest

from tests.services import missing


@pytest.fixture
def e2e_store(label_studio, tmp_path, sqlite_url, monkeypatch):
    """A harvest store on SQLite using the session's Label Studio (data under its document root)."""
    from harvest.store import open_store
    from tests.conftest import make_settings

    monkeypatch.chdir(tmp_path)
    settings = make_settings(tmp_path, sqlite_url, labelstudio={
        "url": label_studio.url, "token": label_studio.token, "document_root": str(label_studio.config.document_root)})
    store = open_store(settings)
    yield store
    store.close()


@dataclass(frozen=True)
class Hook:
    url: str
    secret: str


@pytest.fixture
def hook(e2e_store, label_studio):
    """harvest's webhook app served by uvicorn in a thread; annotator ids are resolved via the LS user list."""
    from annotation.sync_pull import user_emails
    from annotation.webhook import create_app, serve, webhook_secret
    from tests.annotation.test_webhook import wait_for
    from tests.labelstudio import free_port

    client = label_studio.client()
    secret = webhook_secret(e2e_store.settings)
    app = create_app(e2e_store, secret, users={}, refresh_users=lambda: user_emails(client))
    port = free_port()
    server = serve(app, "127.0.0.1", port)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 15)
    yield Hook(f"http://127.0.0.1:{port}/hook", secret)
    server.should_exit = True
    thread.join(10)
    client.close()


@pytest.fixture
def new_page(tmp_path):
    """Factory: a page in a fresh browser context (its own cookies) of the system chromium."""
    from playwright.sync_api import Error, sync_playwright

    from tests.e2e.browser import LOAD_TIMEOUT, VIEWPORT, launch

    playwright = sync_playwright().start()
    try:
        browser = launch(playwright)
    except (OSError, Error) as exc:
        playwright.stop()
        missing("chromium", f"cannot launch the system chromium with Playwright: {exc}")
    pages = []

    def make():
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(LOAD_TIMEOUT)
        page = context.new_page()
        pages.append(page)
        return page

    make.pages = pages
    make.folder = tmp_path
    yield make
    browser.close()
    playwright.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing test call, screenshot every open page into its tmp dir and name the files in the report."""
    outcome = yield
    report = outcome.get_result()
    factory = getattr(item, "funcargs", {}).get("new_page")
    if report.when != "call" or not report.failed or factory is None:
        return
    shots = []
    for n, page in enumerate(factory.pages):
        if page.is_closed():
            continue
        path = factory.folder / f"failure-page{n}.png"
        try:
            page.screenshot(path=str(path), full_page=True)
            shots.append(f"{path}  ({page.url})")
        except Exception as exc:  # noqa: BLE001 - a screenshot must never hide the real failure
            shots.append(f"page {n}: no screenshot ({exc})")
    report.sections.append(("browser screenshots", "\n".join(shots) or "no open page"))
