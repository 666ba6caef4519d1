"""The dashboard over a small factory-built store, through Starlette's TestClient (SQLite and PostgreSQL):
overview figures == `harvest status`, filters against hand-written truth, drawings in the stored frame,
read-only routes, the token, and no secret in any page."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from dashboard.app import create_app
from dashboard.draw import colour, rgb
from harvest.status import status_table
from tests.dashboard.conftest import SECRET
from tests.export.factory import T0, box

T_DELETED = T0.replace(year=T0.year + 1)

PAGES = ["/", "/runs/1", "/runs/2", "/runs/3", "/samples", "/samples/1", "/samples/21", "/labeling", "/versions",
         "/versions/v1", "/versions/v2", "/diff", "/diff?a=v1&b=v2"]


def cells(html: str, selector_id: str) -> list[str]:
    return re.findall(r'data-asset="(\d+)"', html)


def grid_ids(client, query: str) -> set[int]:
    r = client.get(f"/samples?{query}")
    assert r.status_code == 200, r.text
    return {int(i) for i in re.findall(r'class="cell" data-asset="(\d+)"', r.text)}


def test_every_page_renders_and_shows_no_secret(client, small_store):
    store, _ = small_store
    for url in PAGES:
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[-2000:])
        assert SECRET not in r.text
        assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_overview_numbers_equal_harvest_status(client, small_store):
    store, _ = small_store
    table = status_table(store)
    columns = {c.header: list(c._cells) for c in table.columns}
    html = client.get("/").text
    for row, source in enumerate(columns["source"]):
        block = re.search(rf'<tr[^>]*data-source="{re.escape(source)}">(.*?)</tr>', html, re.S).group(1)
        shown = dict(re.findall(r'data-col="(\w+)">(\d+)<', block))
        for header, key in (("runs", "runs"), ("items", "items"), ("images", "images"), ("assets", "assets"),
                            ("labeling tasks", "tasks"), ("annotations", "annotations")):
            assert shown[key] == columns[header][row], (source, header)
    assert re.search(r'id="versions-count">2<', html)
    assert "run 3 failed" in html and "1 item(s) without a licence" in html


def test_overview_counts_tasks_waiting_and_invalid_annotations(small_store):
    """Tasks without a live annotation (a deleted one does not count; a task deleted in Label Studio is not
    waiting), invalid annotations, and the figures of `harvest status` after those changes."""
    store, info = small_store
    f = info["factory"]
    from storage.models import LabelingProject

    project = f.session.query(LabelingProject).one()
    f.task(project, f.image())  # no annotation
    f.annotate(f.task(project, f.image()), [box("cat", 1, 1, 5, 5)], deleted=True)  # only a deleted one
    gone = f.task(project, f.image())
    gone.ls_deleted_at = T0
    bad = f.annotate(f.task(project, f.image()), [box("cat", 1, 1, 5, 5)])
    bad.valid = False
    f.commit()
    with TestClient(create_app(store, warm=False)) as client:
        html = client.get("/").text
    assert "2 task(s) without an annotation" in html
    assert "1 annotation(s) contradict their label config" in html
    columns = {c.header: list(c._cells) for c in status_table(store).columns}
    assert re.search(rf'data-col="annotations">{columns["annotations"][-1]}<', html)
    assert re.search(rf'data-col="tasks">{columns["labeling tasks"][-1]}<', html)
    assert columns["labeling tasks"][-1] == "25" and columns["annotations"][-1] == "23"  # 21 + 4, 22 + 1 live


def test_grid_filters_show_exactly_the_expected_samples(client, small_store):
    # detection_project: sample i (asset i+1) is cat/dog/bird by i % 3, annotator ann{i % 2}, i < 3 share a
    # cluster; the extra v2 sample (asset 21) is a bird by ann0; asset 1 was relabelled cat -> dog in revision 2
    assert grid_ids(client, "label=bird") == {3, 6, 9, 12, 15, 18, 21}
    # cat: i % 3 == 0 or i % 4 == 0, but not asset 1, whose current revision says dog only
    assert grid_ids(client, "label=cat") == {4, 5, 7, 9, 10, 13, 16, 17, 19}
    assert grid_ids(client, "label=dog") == {1, 2, 5, 8, 11, 14, 17, 20}
    assert grid_ids(client, "label=cat&annotator=ann0") == {5, 7, 9, 13, 17, 19}
    assert grid_ids(client, "label=cat&project=proj") == {4, 5, 7, 9, 10, 13, 16, 17, 19}
    assert grid_ids(client, "label=cat&project=other") == set()
    assert grid_ids(client, "version=v1&label=cat") == {1, 4, 5, 7, 9, 10, 13, 16, 17, 19}  # frozen before
    assert grid_ids(client, "annotator=ann1") == {2, 4, 6, 8, 10, 12, 14, 16, 18, 20}
    assert grid_ids(client, "annotator=ann1&label=bird") == {6, 12, 18}
    assert grid_ids(client, "version=v1&label=dog") == {2, 5, 8, 11, 14, 17, 20}
    assert grid_ids(client, "version=v2&label=dog") == {1, 2, 5, 8, 11, 14, 17, 20}
    first = client.get("/samples/1").text
    cluster = re.search(r"cluster <a href=\"/samples\?cluster=(\d+)\">", first).group(1)
    assert grid_ids(client, f"cluster={cluster}") == {1, 2, 3}
    assert len(grid_ids(client, "")) == 21
    assert grid_ids(client, "label=horse") == set()
    bad = client.get("/samples?version=nope")
    assert bad.status_code == 400 and "no dataset version named" in bad.text
    rejected = client.get("/samples?rejection=too_small").text
    assert "http://127.0.0.1:8000/img/tiny.png" in rejected and "page.html" not in rejected


def test_label_filter_pages_walk_the_samples_newest_first(small_store):
    """The label filter's pages (driven by the label rows' index) partition the matching samples, newest first,
    each once although several label rows name it (asset 5 is a cat twice: two boxes)."""
    from dashboard import samples

    store, _ = small_store
    want = [19, 17, 16, 13, 10, 9, 7, 5, 4]  # test_grid_filters_show_exactly_the_expected_samples: label=cat
    with store.sessions() as s:
        seen = []
        for page in range(6):
            data = samples.grid(s, samples.Filters(label="cat"), page, per_page=2)
            assert data["total"] == len(want)
            seen += [c["asset"].id for c in data["cells"]]
        assert seen == want
        mine = samples.grid(s, samples.Filters(label="cat", annotator="ann0"), 0)
        assert [c["asset"].id for c in mine["cells"]] == [19, 17, 13, 9, 7, 5]
        assert {c["annotator"] for c in mine["cells"]} == {"ann0"}  # the annotator's own annotation is drawn


def test_grid_pages_in_sql(client):
    r = client.get("/samples?page=0")
    assert "page 1 of 1 (21 in all)" in r.text
    from dashboard import samples

    assert samples.PER_PAGE == 48


def _png(client, url: str) -> np.ndarray:
    r = client.get(url)
    assert r.status_code == 200, r.text
    return np.asarray(Image.open(io.BytesIO(r.content)).convert("RGB")).astype(int)


def test_drawn_box_sits_on_its_stored_coordinates(client, small_store):
    store, info = small_store
    # asset 2 (sample i=1): one dog box (3, 3) - (31, 40.5) on a 72x48 image, annotation 2 by ann1
    html = client.get("/samples/2").text
    ann = re.search(r'id="full-image" src="/drawn/2.png\?ann=(\d+)"', html).group(1)
    drawn = _png(client, f"/drawn/2.png?ann={ann}")
    plain = _png(client, "/drawn/2.png")
    assert drawn.shape == plain.shape == (48, 72, 3)
    want = np.array(rgb(colour("dog")))
    for x, y in ((17, 3), (3, 20), (17, 40), (31, 20)):  # top, left, bottom (40.5 lies in row 40), right edges
        assert np.abs(drawn[y, x] - want).max() <= 2, (x, y, drawn[y, x], want)
    changed = np.abs(drawn - plain).max(axis=2) > 0
    ys, xs = np.nonzero(changed)
    assert (xs.min(), ys.min(), xs.max(), ys.max()) == (3, 3, 31, 40)  # nothing drawn outside the box
    assert not changed[5:39, 5:30].any()  # the inside is the image itself


def test_thumbnails_are_generated_once_and_cached(client, small_store):
    store, _ = small_store
    cache = store.settings.data_dir / "dashboard" / "drawn"
    first = client.get("/thumb/5.jpg?ann=5")
    files = sorted(cache.rglob("*.jpg"))
    assert first.status_code == 200 and len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = client.get("/thumb/5.jpg?ann=5")
    assert again.content == first.content and files[0].stat().st_mtime_ns == stamp
    assert Image.open(io.BytesIO(first.content)).size == (72, 48)  # small images are not upscaled
    assert client.get("/thumb/5.jpg?ann=6").status_code == 404  # another sample's annotation


def test_sample_page_shows_revisions_provenance_and_task_link(client, small_store):
    store, info = small_store
    from storage.models import LabelingProject, Task

    with store.sessions() as s:
        p = s.query(LabelingProject).one()
        p.ls_url, p.ls_project_id = "http://127.0.0.1:9", 7
        s.query(Task).filter(Task.asset_id == 1).one().ls_task_id = 41
        s.commit()
    html = client.get("/samples/1").text
    assert html.count('class="revision"') == 2 and "revision 2" in html
    assert "CC-BY-4.0" in html and "http://127.0.0.1:8000/img/" in html and ">allowed<" in html
    assert 'href="http://127.0.0.1:9/projects/7/data?task=41"' in html
    assert "/samples/2" in html and "/samples/3" in html  # near-duplicates of its cluster


def test_run_page_lists_rejections_and_failures(client, small_store):
    _, info = small_store
    html = client.get(f"/runs/{info['runs'][1]}").text
    assert "http://127.0.0.1:8000/img/tiny.png" in html and "8x8 is below 32x32" in html
    assert "http://127.0.0.1:8000/broken (HTTP 500)" in html and "HTTP 500" in html
    assert re.search(r"items new</th><td class=\"n\">19<", html)
    assert client.get("/runs/999").status_code == 404


def test_diff_lists_the_expected_changes(client, small_store):
    _, info = small_store
    html = client.get("/diff?a=v1&b=v2").text
    assert re.search(r'id="n-added">1<', html) and re.search(r'id="n-removed">0<', html)
    assert f'<li><a href="/samples/21">{info["added"]}</a></li>' in html
    change = re.search(rf'data-sample="{info["relabelled"]}">(.*?)</div>\s*</div>', html, re.S)
    assert change and "relabelled: [(&#39;cat&#39;, &#39;dog&#39;)]" in change.group(1)
    assert re.search(r'data-class="dog"><td>dog</td><td class="n">7</td><td class="n">8</td><td class="n">1</td>', html)


def test_read_only_and_no_path_from_the_request(client):
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/").status_code == 405
    assert client.get("/thumb/1.jpg?ann=x").status_code == 400
    for url in ("/static/../app.py", "/static/%2e%2e/app.py", "/thumb/..%2f..%2fetc%2fpasswd.jpg", "/image/abc",
                "/versions/..%2f..%2fetc"):
        r = client.get(url)
        assert r.status_code == 404 and "import" not in r.text, url


def test_a_broken_blob_key_in_the_database_is_refused(client, small_store):
    store, _ = small_store
    from storage.models import Asset

    with store.sessions() as s:
        s.get(Asset, 4).sha256 = "../../../../etc/passwd"
        s.commit()
    assert client.get("/thumb/4.jpg").status_code == 404
    assert client.get("/image/4").status_code == 404


def test_token_by_query_then_cookie_or_header(small_store):
    store, _ = small_store
    token = "t0ken-abcdefghijklmnop"
    with TestClient(create_app(store, token=token), follow_redirects=False) as c:
        assert c.get("/").status_code == 401
        assert c.get("/?token=wrong").status_code == 401
        assert c.get("/", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        r = c.get(f"/samples?label=bird&token={token}")
        assert r.status_code == 303 and r.headers["location"] == "/samples?label=bird"
        assert "httponly" in r.headers["set-cookie"].lower()
        page = c.get("/samples?label=bird")  # the cookie now
        assert page.status_code == 200 and token not in page.text
    with TestClient(create_app(store, token=token)) as fresh:
        assert fresh.get("/thumb/1.jpg").status_code == 401


def test_cli_refuses_a_network_host_without_a_token(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from harvest.cli import app

    monkeypatch.delenv("HARVEST_DASHBOARD_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["dashboard", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "a token is required" in str(result.exception)
    short = CliRunner().invoke(app, ["dashboard", "--host", "0.0.0.0", "--token", "short"])
    assert "at least 16 characters" in str(short.exception)


def test_cached_figures_follow_the_store(client, small_store):
    store, info = small_store
    from storage.models import CrawlRun, Source

    before = client.get("/").text
    assert re.search(r'data-source="all">\s*<td>all</td><td class="n" data-col="runs">3<', before)
    with store.sessions() as s:
        source = s.query(Source).one()
        s.add(CrawlRun(source_id=source.id, status="empty", error="parsed 3 page(s) but produced 0 items", stats={}))
        s.commit()
    # the first view after a change may still show the old figures while they are recomputed in the background
    from tests.labelstudio import wait_for

    total = r'data-source="all">\s*<td>all</td><td class="n" data-col="runs">4<'
    after = wait_for(lambda: (lambda t: t if re.search(total, t) else None)(client.get("/").text), 20, "new figures")
    assert "run 4 empty" in after


def test_label_filter_follows_new_revisions_and_deletions(client, small_store):
    """The grid reads a sample's current annotations: the newest revision of each, not deleted; a revision that
    arrives late with a lower number changes nothing. Written through the pull's path (add_revisions, one
    executemany) and the ORM, while the app runs."""
    from sqlalchemy import select

    from storage.labels import add_revisions, mark_deleted
    from storage.models import Annotation, Task

    store, info = small_store
    with store.sessions() as s:
        task = s.scalars(select(Task).where(Task.sample_key == info["relabelled"])).one()
        ann = s.scalars(select(Annotation).where(Annotation.task_id == task.id, Annotation.revision == 2)).one()
        base = {"task_id": task.id, "ls_annotation_id": ann.ls_annotation_id, "annotator": ann.annotator,
                "result": [], "problems": [], "received_via": "pull"}
        add_revisions(s, [{**base, "revision": 4, "targets": [{"type": "choice", "label": "bird"}], "result_hash": "4" * 64}])
        s.commit()
    assert 1 in grid_ids(client, "label=bird") and 1 not in grid_ids(client, "label=dog")
    with store.sessions() as s:  # revision 3 arrives after 4 (a webhook racing a pull): 4 stays current
        s.add(Annotation(**{**base, "revision": 3, "targets": [{"type": "choice", "label": "cat"}], "result_hash": "3" * 64}))
        s.commit()
    assert 1 in grid_ids(client, "label=bird") and 1 not in grid_ids(client, "label=cat")
    with store.sessions() as s:
        mark_deleted(s, [(task.id, ann.ls_annotation_id)], T_DELETED)
        s.commit()
    assert 1 not in grid_ids(client, "label=bird")
    assert grid_ids(client, "label=bird") == {3, 6, 9, 12, 15, 18, 21}
    assert 1 in grid_ids(client, "version=v2&label=dog")  # a version keeps what it froze


def test_harvest_dashboard_serves_the_store(tmp_path):
    import os
    import subprocess
    import sys

    import httpx

    from tests.scrapers.helpers import REPO, check, harvest

    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    env.update(HARVEST_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1", COLUMNS="200")
    check(harvest(["init"], env, tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "harvest", "dashboard", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, line + proc.stderr.read() if proc.poll() is not None else line
        page = httpx.get(match.group(0), timeout=30)
        assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
        assert httpx.post(match.group(0), timeout=30).status_code == 405
    finally:
        proc.terminate()
        proc.wait(15)


def test_crawled_text_is_escaped(client, small_store):
    store, info = small_store
    from storage.models import ImageRejection, Source

    with store.sessions() as s:
        s.add(ImageRejection(source_id=s.query(Source).one().id, url="http://127.0.0.1:8000/x\"><script>alert(1)</script>",
                             reason="not_an_image", detail="<img src=x onerror=alert(2)>", crawl_run_id=info["runs"][0]))
        s.commit()
    for url in (f"/runs/{info['runs'][0]}", "/samples?rejection=not_an_image"):
        html = client.get(url).text
        assert "<script>alert(1)" not in html and "<img src=x onerror" not in html
        assert "&lt;script&gt;alert(1)" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
