"""The samples grid (filters, paging in SQL) and the sample page (revisions, provenance, near-duplicates)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from dashboard.cache import Memo, uncached
from storage.models import (
    Annotation, AnnotationLabel, Asset, AssetQuality, DatasetVersion, ImageRejection, Item, ItemAsset, LabelingProject,
    MemberLabel, Source, Task, VersionMember,
)
from storage.quality import Thresholds

PER_PAGE = 48
NONE = "(none)"


@dataclass
class Filters:
    """The grid's filters, as given in the query string (empty: not filtered)."""

    source: str = ""
    project: str = ""
    label: str = ""
    version: str = ""
    split: str = ""
    licence: str = ""
    annotator: str = ""
    cluster: str = ""
    quality: str = ""
    rejection: str = ""

    @classmethod
    def from_query(cls, params: Any) -> Filters:
        return cls(**{f.name: (params.get(f.name) or "").strip()[:200] for f in fields(cls)})

    def active(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


def current_with_label(label: str, annotator: str = "", project: str = ""):
    """SELECT of the asset ids whose current annotations (the newest revision of each, not deleted) name
    `label` (by `annotator`, in `project`, when given): read from annotation_labels by its (label, asset) index."""
    return _with_label(select(AnnotationLabel.asset_id), label, annotator, project)


def _with_label(stmt, label: str, annotator: str = "", project: str = ""):
    """`stmt` (selecting from annotation_labels) restricted to the label rows of current annotations."""
    newer = aliased(Annotation)
    stmt = (stmt.join(Annotation, Annotation.id == AnnotationLabel.annotation_id)
            .where(AnnotationLabel.label == label, Annotation.deleted_at.is_(None),
                   ~select(newer.id).where(newer.task_id == Annotation.task_id,
                                           newer.ls_annotation_id == Annotation.ls_annotation_id,
                                           newer.revision > Annotation.revision).exists()))
    if annotator:  # the label row's copy: the (label, asset) index drives, not the annotator's (half the table)
        stmt = stmt.where(AnnotationLabel.annotator == annotator)
    if project:
        stmt = (stmt.join(Task, Task.id == Annotation.task_id).join(LabelingProject, LabelingProject.id == Task.project_id)
                .where(LabelingProject.name == project))
    return stmt


def annotated(annotator: str = "", project: str = ""):
    """SELECT of the asset ids with a live annotation (by `annotator`, in `project`, when given)."""
    stmt = select(Task.asset_id).join(Annotation, Annotation.task_id == Task.id).where(Annotation.deleted_at.is_(None))
    if annotator:
        stmt = stmt.where(Annotation.annotator == annotator)
    if project:
        stmt = stmt.join(LabelingProject, LabelingProject.id == Task.project_id).where(LabelingProject.name == project)
    return stmt


def _quality(flag: str, t: Thresholds = Thresholds()):
    q = AssetQuality
    conditions = {
        "blurry": q.blur < t.blur, "dark": q.brightness < t.dark, "bright": q.brightness > t.bright,
        "low_information": q.entropy < t.entropy, "grayscale": q.colourfulness < t.colourfulness,
        "odd_aspect": or_(q.aspect > t.aspect, q.aspect < 1 / t.aspect),
    }
    return conditions.get(flag)


class BadFilter(ValueError):
    """A filter value that cannot be used (an unknown version, a non-numeric cluster, ...)."""


def grid_query(session: Session, f: Filters):
    """SELECT of asset ids matching the filters (its one column orders the pages), and the version they are read
    from (or None)."""
    version = None
    if f.version:
        version = session.scalar(select(DatasetVersion).where(DatasetVersion.name == f.version))
        if version is None:
            raise BadFilter(f"no dataset version named {f.version!r}")
    elif f.split:
        version = session.scalars(select(DatasetVersion).order_by(DatasetVersion.id.desc()).limit(1)).first()
        if version is None:
            raise BadFilter("a split filter needs a dataset version; none exists yet")
    if f.label and version is None:
        # driven by the label rows in (label, asset) index order: a page stops after its samples instead of
        # listing every sample with the label first (an asset may have several label rows: DISTINCT)
        stmt = _with_label(select(AnnotationLabel.asset_id).join(Asset, Asset.id == AnnotationLabel.asset_id),
                           f.label, f.annotator, f.project).where(Asset.width.is_not(None)).distinct()
    else:
        stmt = select(Asset.id).where(Asset.width.is_not(None))
    if version is not None:  # a join, not EXISTS: version_members is indexed by version, not by asset
        stmt = stmt.join(VersionMember, VersionMember.asset_id == Asset.id).where(VersionMember.version_id == version.id)
        if f.split:
            stmt = stmt.where(VersionMember.split == f.split)
        if f.label:
            stmt = stmt.where(Asset.id.in_(select(MemberLabel.asset_id).where(MemberLabel.version_id == version.id,
                                                                                 MemberLabel.label == f.label)))
    if f.source or f.licence:
        link = select(ItemAsset.id).join(Item, Item.id == ItemAsset.item_id).where(ItemAsset.asset_id == Asset.id)
        if f.source:
            link = link.join(Source, Source.id == Item.source_id).where(Source.name == f.source)
        if f.licence == NONE:
            link = link.where(or_(Item.licence.is_(None), Item.licence == ""))
        elif f.licence:
            link = link.where(Item.licence == f.licence)
        stmt = stmt.where(link.exists())
    if (f.project or f.annotator) and not (f.label and version is None):
        stmt = stmt.where(Asset.id.in_(annotated(f.annotator, f.project)))
    if f.cluster:
        if not f.cluster.isdigit():
            raise BadFilter(f"cluster must be a number; found {f.cluster!r}")
        stmt = stmt.where(Asset.cluster_id == int(f.cluster))
    if f.quality:
        cond = _quality(f.quality)
        if cond is None:
            raise BadFilter(f"unknown quality flag {f.quality!r}")
        stmt = stmt.where(select(AssetQuality.asset_id).where(AssetQuality.asset_id == Asset.id, cond).exists())
    return stmt, version


def grid(session: Session, f: Filters, page: int, per_page: int = PER_PAGE, memo: Memo | None = None) -> dict[str, Any]:
    """One page of samples (newest first) with the targets to draw on each thumbnail; the total through `memo`."""
    memo = memo or uncached(session)
    if f.rejection:
        return rejections(session, f, page, per_page, memo)
    stmt, version = grid_query(session, f)
    total = memo(("grid total", tuple(sorted(f.active().items()))),
                 lambda db: db.scalar(select(func.count()).select_from(stmt.subquery())))
    key = stmt.selected_columns[0]
    ids = list(session.scalars(stmt.order_by(key.desc()).limit(per_page).offset(page * per_page)))
    assets = {a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(ids)))} if ids else {}
    drawn: dict[int, dict[str, Any]] = {}
    if version is not None and ids:
        keys = [f"asset:{i}" for i in ids]  # the (version, sample key) index, not a scan of the version
        for m in session.scalars(select(VersionMember).where(VersionMember.version_id == version.id,
                                                             VersionMember.sample_key.in_(keys),
                                                             VersionMember.asset_id.in_(ids))):
            drawn[m.asset_id] = {"member": m.id, "targets": m.targets, "split": m.split}
    elif ids:
        rows = session.execute(
            select(Task.asset_id, Annotation.id, Annotation.targets, Annotation.annotator)
            .join(Annotation, Annotation.task_id == Task.id)
            .where(Task.asset_id.in_(ids), Annotation.deleted_at.is_(None))
            .order_by(Annotation.id.desc()))
        for asset_id, ann_id, targets, annotator in rows:  # the annotator filtered here: the page's few rows,
            if f.annotator and annotator != f.annotator:  # not the annotator's index (half the table)
                continue
            drawn.setdefault(asset_id, {"annotation": ann_id, "targets": targets, "annotator": annotator})
    cells = [{"asset": assets[i], **drawn.get(i, {"targets": []})} for i in ids if i in assets]
    return {"kind": "assets", "cells": cells, "total": total, "page": page, "per_page": per_page, "version": version}


def rejections(session: Session, f: Filters, page: int, per_page: int, memo: Memo | None = None) -> dict[str, Any]:
    """Refused image URLs (no stored image to show) with their reason."""
    stmt = select(ImageRejection, Source.name).join(Source, Source.id == ImageRejection.source_id)
    if f.rejection != "(any)":
        stmt = stmt.where(ImageRejection.reason == f.rejection)
    if f.source:
        stmt = stmt.where(Source.name == f.source)
    memo = memo or uncached(session)
    total = memo(("rejections total", f.rejection, f.source),
                 lambda db: db.scalar(select(func.count()).select_from(stmt.subquery())))
    rows = session.execute(stmt.order_by(ImageRejection.id.desc()).limit(per_page).offset(page * per_page)).all()
    return {"kind": "rejections", "rows": rows, "total": total, "page": page, "per_page": per_page, "version": None}


def distinct_values(session: Session, col, limit: int = 200) -> list[Any]:
    """The distinct non-null values of an indexed column, in order: one index seek per value (a recursive
    query stepping to the next larger value), not a pass over the table."""
    first = select(col).where(col.is_not(None)).order_by(col).limit(1).scalar_subquery()
    values = select(first.label("v")).cte("distinct_values", recursive=True)
    prev = values.alias("prev")
    step = select(col).where(col > prev.c.v).order_by(col).limit(1).scalar_subquery()
    values = values.union_all(select(step).where(prev.c.v.is_not(None)))
    return list(session.scalars(select(values.c.v).where(values.c.v.is_not(None)).limit(limit)))


def filter_choices(session: Session) -> dict[str, list[str]]:
    """Values offered in the grid's filter menus (small, distinct lists)."""
    def distinct(col, limit: int = 200) -> list[str]:
        return [v for v in session.scalars(select(col).where(col.is_not(None)).distinct().order_by(col).limit(limit))]

    licences = distinct_values(session, Item.licence)  # large tables: index seeks (see distinct_values)
    return {
        "source": distinct(Source.name), "project": distinct(LabelingProject.name),
        "version": distinct(DatasetVersion.name), "split": ["train", "val", "test"],
        "licence": [NONE, *[v for v in licences if v]], "annotator": distinct_values(session, Annotation.annotator),
        "rejection": ["(any)", *distinct(ImageRejection.reason)],
        "quality": ["blurry", "dark", "bright", "low_information", "odd_aspect", "grayscale"],
        "label": sorted({str(label) for labels in session.scalars(select(LabelingProject.labels)) for label in labels or []}),
    }


def sample(session: Session, asset_id: int) -> dict[str, Any] | None:
    """One stored image: every annotation revision, provenance, near-duplicates, versions, Label Studio links."""
    asset = session.get(Asset, asset_id)
    if asset is None:
        return None
    links = session.execute(
        select(ItemAsset, Item, Source.name).join(Item, Item.id == ItemAsset.item_id)
        .join(Source, Source.id == Item.source_id).where(ItemAsset.asset_id == asset_id)
        .order_by(ItemAsset.id).limit(50)).all()
    tasks = session.execute(
        select(Task, LabelingProject).join(LabelingProject, LabelingProject.id == Task.project_id)
        .where(Task.asset_id == asset_id).order_by(Task.id)).all()
    task_ids = [t.id for t, _ in tasks]
    revisions = list(session.scalars(select(Annotation).where(Annotation.task_id.in_(task_ids))
                                     .order_by(Annotation.task_id, Annotation.ls_annotation_id, Annotation.revision)
                                     .limit(200))) if task_ids else []
    latest: dict[tuple[int, int], int] = {}
    for a in revisions:
        latest[(a.task_id, a.ls_annotation_id)] = a.id
    current = {i for i in latest.values()}
    neighbours = []
    if asset.cluster_id is not None:
        neighbours = list(session.scalars(select(Asset).where(Asset.cluster_id == asset.cluster_id, Asset.id != asset_id)
                                          .order_by(Asset.id).limit(24)))
    version_ids = list(session.scalars(select(DatasetVersion.id)))  # few: use the (version, sample key) index
    members = session.execute(
        select(VersionMember, DatasetVersion.name).join(DatasetVersion, DatasetVersion.id == VersionMember.version_id)
        .where(VersionMember.version_id.in_(version_ids), VersionMember.sample_key == f"asset:{asset_id}",
               VersionMember.asset_id == asset_id).order_by(DatasetVersion.id).limit(50)).all()
    quality = session.get(AssetQuality, asset_id)
    ls_links = []
    for task, project in tasks:
        if project.ls_url and project.ls_url.startswith(("http://", "https://")) and project.ls_project_id \
                and task.ls_task_id:
            ls_links.append((project.name, f"{project.ls_url.rstrip('/')}/projects/{project.ls_project_id}"
                                           f"/data?task={task.ls_task_id}"))
    return {"asset": asset, "links": links, "tasks": tasks, "revisions": revisions, "current": current,
            "neighbours": neighbours, "members": members, "quality": quality, "ls_links": ls_links}
