"""The dashboard in Debian's chromium (Playwright) over the demo's data: no console error on any page, the
overview's figures equal `harvest status`, a filtered grid shows exactly the samples the demo site's ground
truth says, a drawn box sits where its stored coordinates say (pixels of a screenshot), and the diff of v1
and v2 lists the changes made by hand. Screenshots go to $HARVEST_TEST_ARTIFACTS (else the test's tmp dir)."""
from __future__ import annotations

import io
import os
import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from dashboard.draw import colour, rgb
from harvest.demo.site import DemoSite, serve
from storage.models import Annotation, Asset, CrawlRun, DatasetVersion, Task, VersionMember
from tests.conftest import postgres_admin_url
from tests.dashboard.demo import asset_ids, build, served
from tests.e2e.conftest import new_page  # noqa: F401 - the system chromium fixture
from tests.scrapers.helpers import check, harvest
from tests.services import missing

pytestmark = pytest.mark.browser
ANNOTATOR = "annotator1@harvest.local"  # the simulated annotator who copies the ground truth


@pytest.fixture(scope="module")
def site():
    with serve(DemoSite(0), port=0) as srv:
        yield srv


@pytest.fixture(scope="module")
def demos(site, tmp_path_factory):
    """Demo stores by backend, built on first use; PostgreSQL in its own database, dropped at the end."""
    built, cleanup = {}, []

    def get(backend: str):
        if backend not in built:
            root = tmp_path_factory.mktemp(f"dashboard-demo-{backend}")
            if backend == "sqlite":
                url = f"sqlite:///{root / 'harvest.db'}"
            else:
                admin = postgres_admin_url()
                if not admin:
                    missing("PostgreSQL", "HARVEST_TEST_POSTGRES_URL is not set")
                name = f"harvest_dashboard_demo_{uuid.uuid4().hex[:8]}"
                engine = create_engine(make_url(admin).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
                with engine.connect() as c:
                    c.execute(text(f'CREATE DATABASE "{name}"'))
                cleanup.append((engine, name))
                url = make_url(admin).set(drivername="postgresql+psycopg", database=name).render_as_string(False)
            built[backend] = build(root, site, url)
        return built[backend]

    yield get
    for demo in built.values():
        demo.store.close()
    for engine, name in cleanup:
        with engine.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture
def artifacts(tmp_path) -> Path:
    folder = Path(os.environ.get("HARVEST_TEST_ARTIFACTS") or tmp_path) / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def watch(page) -> list[str]:
    """Console errors, uncaught exceptions and failed requests of the page, as they happen."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}"))
    return problems


def settle(page) -> None:
    """Wait until every chart is drawn and every image (lazy ones too) has loaded."""
    page.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach(i => { i.loading = 'eager'; })")
    page.wait_for_load_state("networkidle")
    page.wait_for_function("() => [...document.querySelectorAll('.chart')].every(c => c.querySelector('.main-svg'))")
    page.wait_for_function("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")


def test_every_page_loads_without_a_console_error(demos, new_page, artifacts):
    demo = demos("sqlite")
    with demo.store.sessions() as s:
        run = s.scalars(select(CrawlRun.id)).first()
        member = s.scalars(select(VersionMember).join(DatasetVersion).where(DatasetVersion.name == "v1")).first()
    first = asset_ids(demo.store)[0]
    pages = {"overview": "/", "run": f"/runs/{run}", "samples": "/samples", "samples-filtered": "/samples?label=ball",
             "sample": f"/samples/{member.asset_id}", "labeling": "/labeling", "versions": "/versions",
             "version": "/versions/v1", "diff": "/diff?a=v1&b=v2", "rejections": "/samples?rejection=(any)",
             "near-dups": f"/samples/{first}"}
    with served(demo.store) as base:
        page = new_page()
        problems = watch(page)
        for name, path in pages.items():
            page.goto(base + path)
            settle(page)
            page.screenshot(path=str(artifacts / f"dashboard-{name}.png"), full_page=True)
            assert not problems, f"{path}: {problems}"
            assert page.locator("h1").first.inner_text()


def _status_rows(demo) -> dict[str, list[str]]:
    """`harvest status` as printed: source -> its cells."""
    env = {**demo.env, "COLUMNS": "250"}
    out = check(harvest(["status"], env, demo.root)).stdout
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if len(cells) == 8 and cells[0] and cells[1].isdigit():
            rows[cells[0]] = cells
    versions = re.search(r"dataset versions: (\d+)", out).group(1)
    return rows | {"_versions": [versions]}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_overview_numbers_equal_harvest_status(backend, demos, new_page, artifacts):
    demo = demos(backend)
    status = _status_rows(demo)
    assert "demo" in status and "all" in status
    with served(demo.store) as base:
        page = new_page()
        problems = watch(page)
        page.goto(base + "/")
        settle(page)
        page.screenshot(path=str(artifacts / f"overview-{backend}.png"), full_page=True)
        for source, cells in status.items():
            if source == "_versions":
                continue
            row = page.locator(f'#status tr[data-source="{source}"]')
            shown = [row.locator(f'td[data-col="{c}"]').inner_text() for c in
                     ("runs", "items", "images", "assets", "tasks", "annotations")]
            assert shown == [cells[1], *cells[3:8]], (source, shown, cells)
        assert page.locator("#versions-count").inner_text() == status["_versions"][0]
        assert not problems


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_filtered_grid_shows_exactly_the_ground_truth_samples(backend, demos, new_page, artifacts):
    demo = demos(backend)
    label = "bottle"
    expected = {a for a, path in demo.paths.items() if any(t["label"] == label for t in demo.truth.get(path, []))}
    assert 0 < len(expected)
    with served(demo.store) as base:
        page = new_page()
        problems = watch(page)
        page.goto(f"{base}/samples")
        settle(page)
        page.select_option("select[name=label]", label)
        page.select_option("select[name=annotator]", ANNOTATOR)
        page.click("form.filters button[type=submit]")
        page.wait_for_url(re.compile(r"label=bottle"))
        settle(page)
        page.screenshot(path=str(artifacts / f"grid-{label}-{backend}.png"), full_page=True)
        assert page.locator("#total").inner_text().startswith(f"{len(expected)} sample(s)")
        shown: set[int] = set()
        while True:
            shown |= {int(a) for a in page.locator("#grid .cell").evaluate_all("els => els.map(e => e.dataset.asset)")}
            nxt = page.locator(".pager a", has_text="next")
            if not nxt.count():
                break
            nxt.click()
            settle(page)
        assert shown == expected
        assert not problems


def test_a_drawn_box_sits_where_its_stored_coordinates_say(demos, new_page, artifacts):
    demo = demos("sqlite")
    with demo.store.sessions() as s:
        ann = s.scalars(select(Annotation).where(Annotation.annotator == ANNOTATOR).order_by(Annotation.id)).first()
        asset_id = s.get(Task, ann.task_id).asset_id
        blob = demo.store.blobs.get(s.get(Asset, asset_id).sha256)
    original = np.asarray(Image.open(io.BytesIO(blob)).convert("RGB")).astype(int)
    with served(demo.store) as base:
        page = new_page()
        problems = watch(page)
        page.goto(f"{base}/samples/{asset_id}")
        settle(page)
        newest = int(page.locator("#full-image").get_attribute("data-annotation"))
        with demo.store.sessions() as s:
            targets = s.get(Annotation, newest).targets
        img = page.locator("#full-image").bounding_box()
        shot = np.asarray(Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")).astype(int)
        Image.fromarray(shot.astype(np.uint8)).save(artifacts / "sample-box.png")
        h, w = original.shape[:2]
        sx, sy = img["width"] / w, img["height"] / h
        assert abs(sx - 1) < 0.01 and abs(sy - 1) < 0.01, "the full image is shown at its stored size"
        line = max(1, round(max(w, h) / 160))
        checked = 0
        for t in (t for t in targets if t["type"] == "bbox"):
            want = np.array(rgb(colour(t["label"])))
            cx, cy = (t["x_min"] + t["x_max"]) / 2, (t["y_min"] + t["y_max"]) / 2
            inside = line / 2
            edges = [(cx, t["y_min"] + inside), (cx, t["y_max"] - inside + 1), (t["x_min"] + inside, cy),
                     (t["x_max"] - inside + 1, cy)]
            for x, y in edges:
                px = shot[int(img["y"] + y * sy), int(img["x"] + x * sx)]
                assert np.abs(px - want).max() <= 24, (t, (x, y), px, want)
            for x, y in [(cx, t["y_min"] - line - 3), (t["x_min"] - line - 3, cy)]:
                if 0 <= x < w and 0 <= y < h:  # just outside the box: the image itself
                    px = shot[int(img["y"] + y * sy), int(img["x"] + x * sx)]
                    assert np.abs(px - original[int(y), int(x)]).max() <= 24, (t, (x, y), px)
            checked += 1
        assert checked >= 1
        assert not problems


def test_the_diff_of_two_versions_lists_the_expected_changes(demos, new_page, artifacts):
    demo = demos("sqlite")
    key, old, new = demo.relabel
    with served(demo.store) as base:
        page = new_page()
        problems = watch(page)
        page.goto(f"{base}/versions")
        settle(page)
        page.select_option("select[name=a]", "v1")
        page.select_option("select[name=b]", "v2")
        page.click("form[action='/diff'] button")
        page.wait_for_url(re.compile(r"/diff\?a=v1&b=v2"))
        settle(page)
        page.screenshot(path=str(artifacts / "diff-v1-v2.png"), full_page=True)
        added = set(page.locator("#added li").all_inner_texts())
        assert added == demo.held and page.locator("#n-added").inner_text() == str(len(demo.held))
        assert page.locator("#n-removed").inner_text() == "0"
        change = page.locator(f'#label-changes .revision[data-sample="{key}"]')
        assert change.count() == 1
        assert f"relabelled: [('{old}', '{new}')]" in change.inner_text()
        assert change.locator("img").count() == 2
        assert not problems
