"""The read-only dashboard: a Starlette app over the store, server-rendered with Jinja2.

`create_app(store, token=None)`; every route is GET. Images reach the browser only through the blob store
(keys are sha256 digests read from the database, checked by `storage.blobs.check_key`); drawings are cached
under `<data_dir>/dashboard/` with names that are digests computed here.
"""
from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from dashboard import charts, labeling, overview, samples, versions
from dashboard.cache import Cache
from dashboard.draw import THUMB, Drawings, cached_file, colour, draw_targets, encode, ink
from dashboard.security import Guard
from storage.blobs import check_key
from storage.errors import BlobKeyError, BlobNotFound
from storage.models import Annotation, Asset, DatasetVersion, Task, VersionMember

logger = logging.getLogger(__name__)
TEMPLATES = Jinja2Templates(directory=str(resources.files("dashboard") / "templates"))
TEMPLATES.env.filters["dt"] = lambda v: v.strftime("%Y-%m-%d %H:%M") if v else "-"
TEMPLATES.env.filters["colour"] = colour
TEMPLATES.env.filters["ink"] = ink
WARM_TIMEOUT = 30.0  # seconds shutting down waits for the start-up warm-up to end
CACHE_HEADERS = {"Cache-Control": "private, max-age=86400"}


def plotly_js() -> Path | None:
    """plotly.min.js from the installed plotly package (never a copy in this repository)."""
    try:
        path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


class Dashboard:
    """Route handlers bound to one store."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.cache_dir = Path(store.settings.data_dir) / "dashboard"
        self.drawings = Drawings(store.blobs, self.cache_dir / "drawn")
        self.cache = Cache()
        self.warmed = threading.Event()

    def warm(self) -> None:
        """At start, in the background: compute the figures of the overview, the grid and the labeling page,
        so that the first views find them (a view arriving meanwhile waits for the figure being computed
        instead of computing it again)."""
        try:
            with self.session() as s:
                memo = self.cache.memo(s)
                overview.overview(s, memo=memo)
                samples.grid(s, samples.Filters(), 0, memo=memo)
                memo("choices", samples.filter_choices)
                self.labeling_projects(s, memo)
        except Exception:  # noqa: BLE001 - a page computes what the warm-up could not
            logger.exception("dashboard: warming up the figures failed")
        finally:
            self.warmed.set()

    def labeling_projects(self, s, memo) -> list[dict[str, Any]]:
        projects = []
        for p in memo("progress", labeling.progress):
            pid = p["project"].id
            agree = memo(("agreement", pid), lambda db, pid=pid: labeling.project_agreement(db, pid))
            people = memo(("annotators", pid), lambda db, pid=pid: labeling.annotators(db, pid))
            review = memo(("review", pid), lambda db, pid=pid, agree=agree: labeling.review_queue(
                db, pid, agree["disagreements"]))
            projects.append({**p, "annotators": people, "agreement": agree, "review": review})
        return projects

    def memo(self, session):
        """Aggregates for this request: cached, and refreshed in the background once the store has changed."""
        return self.cache.memo(session, self.store.sessions)

    @contextmanager
    def session(self):
        with self.store.sessions() as s:
            yield s

    def page(self, request: Request, name: str, status_code: int = 200, **context: Any) -> Response:
        return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)

    # pages -------------------------------------------------------------------------------------------------
    def overview(self, request: Request) -> Response:
        with self.session() as s:
            data = overview.overview(s, memo=self.memo(s))
            figs = [charts.runs_over_time(src["source"].name, src["runs"], src["figures"])
                    for src in data["sources"] if src["runs"]]
            if data["drops"]:
                figs.append(charts.bars("items dropped by reason (recent runs)", data["drops"]))
            if data["rejections"]:
                figs.append(charts.bars("images rejected by reason (all time)", data["rejections"]))
            return self.page(request, "overview.html", **data, charts=figs)

    def run(self, request: Request) -> Response:
        with self.session() as s:
            data = overview.run_page(s, request.path_params["run_id"], _page(request))
            if data is None:
                raise HTTPException(404, "no such crawl run")
            figs = [charts.bars("dropped by reason", data["dropped"])] if data["dropped"] else []
            return self.page(request, "run.html", **data, charts=figs)

    def grid(self, request: Request) -> Response:
        f = samples.Filters.from_query(request.query_params)
        with self.session() as s:
            memo = self.memo(s)
            try:
                data = samples.grid(s, f, _page(request), memo=memo)
                error = None
            except samples.BadFilter as exc:
                data, error = {"kind": "assets", "cells": [], "total": 0, "page": 0, "per_page": samples.PER_PAGE,
                               "version": None}, str(exc)
            return self.page(request, "samples.html", **data, filters=f, active=f.active(), error=error,
                             choices=memo("choices", samples.filter_choices), query=_query_without_page(request),
                             status_code=400 if error else 200)

    def sample(self, request: Request) -> Response:
        with self.session() as s:
            data = samples.sample(s, request.path_params["asset_id"])
            if data is None:
                raise HTTPException(404, "no such sample")
            return self.page(request, "sample.html", **data)

    def labeling(self, request: Request) -> Response:
        with self.session() as s:
            projects = self.labeling_projects(s, self.memo(s))
            figs = [charts.bars(f"{p['project'].name}: annotations per annotator",
                                {a["annotator"]: a["revisions"] for a in p["annotators"]}) for p in projects
                    if p["annotators"]]
            return self.page(request, "labeling.html", projects=projects, charts=figs)

    def versions(self, request: Request) -> Response:
        with self.session() as s:
            return self.page(request, "versions.html", versions=versions.versions(s))

    def version(self, request: Request) -> Response:
        with self.session() as s:
            data = versions.version_page(s, request.path_params["name"])
            if data is None:
                raise HTTPException(404, "no such dataset version")
            classes = data["stats"].get("classes") or {}
            figs = [charts.class_balance(classes)] if classes else []
            if data["skipped"]:
                figs.append(charts.bars("left out, by reason", data["skipped"]))
            return self.page(request, "version.html", **data, charts=figs)

    def diff(self, request: Request) -> Response:
        a, b = request.query_params.get("a", ""), request.query_params.get("b", "")
        with self.session() as s:
            names = list(s.scalars(select(DatasetVersion.name).order_by(DatasetVersion.id)))
            data = versions.diff(s, a, b) if a and b else None
            if (a or b) and data is None:
                raise HTTPException(404, f"pick two existing versions (known: {', '.join(names) or 'none'})")
            figs = [charts.class_impact(data["diff"]["per_class"])] if data and data["diff"]["per_class"] else []
            return self.page(request, "diff.html", data=data, names=names, a=a, b=b, charts=figs)

    # images ------------------------------------------------------------------------------------------------
    def _targets(self, s, request: Request, asset_id: int) -> list[dict[str, Any]]:
        ann, member = request.query_params.get("ann"), request.query_params.get("member")
        if ann:
            row = s.execute(select(Annotation.targets).join(Task, Task.id == Annotation.task_id)
                            .where(Annotation.id == _int(ann), Task.asset_id == asset_id)).first()
            if row is None:
                raise HTTPException(404, "no such annotation of this sample")
            return list(row[0])
        if member:
            row = s.execute(select(VersionMember.targets).where(VersionMember.id == _int(member),
                                                                VersionMember.asset_id == asset_id)).first()
            if row is None:
                raise HTTPException(404, "no such version member of this sample")
            return list(row[0])
        return []

    def _drawn(self, request: Request, size: int | None) -> Response:
        asset_id = request.path_params["asset_id"]
        with self.session() as s:
            sha = s.scalar(select(Asset.sha256).where(Asset.id == asset_id))
            if sha is None:
                raise HTTPException(404, "no such sample")
            targets = self._targets(s, request, asset_id)
        try:
            path = self.drawings.path(check_key(sha), targets, size)
        except (BlobNotFound, BlobKeyError):
            raise HTTPException(404, "the image's blob is missing from the blob store") from None
        return FileResponse(path, media_type="image/png" if size is None else "image/jpeg", headers=CACHE_HEADERS)

    def thumb(self, request: Request) -> Response:
        return self._drawn(request, THUMB)

    def drawn(self, request: Request) -> Response:
        return self._drawn(request, None)

    def image(self, request: Request) -> Response:
        with self.session() as s:
            row = s.execute(select(Asset.sha256, Asset.mime).where(Asset.id == request.path_params["asset_id"])).first()
        if row is None or not row.mime.startswith("image/"):
            raise HTTPException(404, "no such image")
        try:
            stream = self.store.blobs.open(check_key(row.sha256))
        except (BlobNotFound, BlobKeyError):
            raise HTTPException(404, "the image's blob is missing from the blob store") from None

        def chunks():
            with stream:
                while chunk := stream.read(1 << 16):
                    yield chunk
        return StreamingResponse(chunks(), media_type=row.mime, headers=CACHE_HEADERS)

    def gallery(self, request: Request) -> Response:
        with self.session() as s:
            member = s.get(VersionMember, request.path_params["member_id"])
            version = s.get(DatasetVersion, member.version_id) if member else None
            if member is None or version is None or not version.policy_text or not member.sha256:
                raise HTTPException(404, "no augmented copy for this member")
            s.expunge_all()

        def make() -> bytes:
            img, targets = versions.augmented_copy(version, member, self.store.blobs, self.cache_dir)
            return encode(draw_targets(img, targets), THUMB)
        try:
            path = cached_file(self.cache_dir / "gallery", versions.gallery_name(version, member), "jpg", make)
        except (BlobNotFound, BlobKeyError):
            raise HTTPException(404, "the image's blob is missing from the blob store") from None
        return FileResponse(path, media_type="image/jpeg", headers=CACHE_HEADERS)

    def plotly(self, request: Request) -> Response:
        path = plotly_js()
        if path is None:
            raise HTTPException(404, "plotly is not installed")
        return FileResponse(path, media_type="text/javascript", headers=CACHE_HEADERS)


def _int(value: str) -> int:
    if not value.isdigit():
        raise HTTPException(400, f"expected a number, found {value!r}")
    return int(value)


def _page(request: Request) -> int:
    value = request.query_params.get("page", "0")
    return min(int(value), 100_000) if value.isdigit() else 0


def _query_without_page(request: Request) -> str:
    from urllib.parse import urlencode

    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "token") and v])


async def _error(request: Request, exc: HTTPException) -> Response:
    return TEMPLATES.TemplateResponse(request, "error.html", {"status": exc.status_code, "detail": exc.detail},
                                      status_code=exc.status_code)


def prepare() -> None:
    """Work every first view would otherwise pay for, done once per process before serving: the templates
    compiled, the ORM's mappers configured, the cron parser imported."""
    import croniter  # noqa: F401 - used by the overview's next-run column
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    for name in TEMPLATES.env.list_templates(extensions=["html"]):
        TEMPLATES.env.get_template(name)


def create_app(store: Any, token: str | None = None, warm: bool = True) -> Starlette:
    """The dashboard over `store`; with `token`, every request must carry it. With `warm`, the figures are
    computed in the background at start (see Dashboard.warm); shutting down waits for that to end."""
    d = Dashboard(store)
    prepare()

    @asynccontextmanager
    async def lifespan(app: Starlette):
        thread = threading.Thread(target=d.warm, name="dashboard-warm", daemon=True) if warm else None
        if thread is not None:
            thread.start()
        else:
            d.warmed.set()
        yield
        if thread is not None:
            thread.join(WARM_TIMEOUT)
    routes = [
        Route("/", d.overview, name="overview"),
        Route("/runs/{run_id:int}", d.run, name="run"),
        Route("/samples", d.grid, name="samples"),
        Route("/samples/{asset_id:int}", d.sample, name="sample"),
        Route("/labeling", d.labeling, name="labeling"),
        Route("/versions", d.versions, name="versions"),
        Route("/versions/{name:str}", d.version, name="version"),
        Route("/diff", d.diff, name="diff"),
        Route("/thumb/{asset_id:int}.jpg", d.thumb, name="thumb"),
        Route("/drawn/{asset_id:int}.png", d.drawn, name="drawn"),
        Route("/image/{asset_id:int}", d.image, name="image"),
        Route("/gallery/{member_id:int}.jpg", d.gallery, name="gallery"),
        Route("/assets/plotly.min.js", d.plotly, name="plotly"),
        Mount("/static", StaticFiles(packages=[("dashboard", "static")]), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _error}, lifespan=lifespan)
    app.add_middleware(Guard, token=token)
    app.state.dashboard = d
    return app
