"""Queries of the export stage: a project's samples with provenance and annotations; versions; exports."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.collect_models import Asset, Item, ItemAsset, Source
from storage.dataset_models import DatasetVersion, Export, VersionMember
from storage.label_models import Annotation, LabelingProject, Task
from storage.upsert import MAX_PARAMS

IN_BATCH = MAX_PARAMS // 4


@dataclass
class SampleRow:
    """One task of a project with the asset, the item it came from and every stored annotation revision."""

    task_id: int
    sample_key: str
    asset: Asset | None
    item: Item | None
    source: str | None
    image_url: str | None
    image_fetched_at: Any
    annotations: list[Annotation] = field(default_factory=list)
    task_deleted: bool = False  # the task was deleted in Label Studio
    # the item has no licence and its source requires one (`require_licence`): kept, left out of versions
    unlicensed: bool = False


def _by_id(session: Session, model: type, ids: set[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    ordered = sorted(i for i in ids if i is not None)
    for start in range(0, len(ordered), IN_BATCH):
        chunk = ordered[start:start + IN_BATCH]
        out.update({row.id: row for row in session.scalars(select(model).where(model.id.in_(chunk)))})
    return out


def project_by_name(session: Session, name: str) -> LabelingProject | None:
    return session.scalars(select(LabelingProject).where(LabelingProject.name == name)).first()


def project_labels(session: Session, project_id: int | None) -> tuple[list[str], str | None]:
    """The project's label set in its own order and its template name (empty, None when the project is gone)."""
    row = session.get(LabelingProject, project_id) if project_id is not None else None
    return (list(row.labels or []), row.template) if row is not None else ([], None)


def project_names(session: Session) -> list[str]:
    return list(session.scalars(select(LabelingProject.name).order_by(LabelingProject.name)))


def project_samples(session: Session, project_id: int) -> list[SampleRow]:
    """Every task of the project, sorted by sample key, with asset, item, image URL and annotations."""
    tasks = list(session.scalars(select(Task).where(Task.project_id == project_id).order_by(Task.sample_key)))
    anns: dict[int, list[Annotation]] = defaultdict(list)
    stmt = (
        select(Annotation).join(Task, Task.id == Annotation.task_id)
        .where(Task.project_id == project_id).order_by(Annotation.id)
    )
    for ann in session.scalars(stmt):
        anns[ann.task_id].append(ann)
    assets = _by_id(session, Asset, {t.asset_id for t in tasks})
    links: dict[int, list[ItemAsset]] = defaultdict(list)
    asset_ids = sorted(assets)
    for start in range(0, len(asset_ids), IN_BATCH):
        chunk = asset_ids[start:start + IN_BATCH]
        for link in session.scalars(select(ItemAsset).where(ItemAsset.asset_id.in_(chunk))):
            links[link.asset_id].append(link)
    item_ids = {t.item_id for t in tasks} | {l.item_id for ls in links.values() for l in ls}
    items = _by_id(session, Item, item_ids)
    chosen: dict[int, ItemAsset | None] = {}
    for t in tasks:  # an image on several pages: the page chosen by content (URLs), never by arrival order (ids)
        cands = sorted(links.get(t.asset_id, []), key=lambda l: (
            l.item_id != t.item_id, items[l.item_id].canonical_url if l.item_id in items else "", l.url, l.position, l.id))
        chosen[t.id] = cands[0] if cands else None
    sources = _by_id(session, Source, {i.source_id for i in items.values()})
    out = []
    for t in tasks:
        link = chosen[t.id]
        item = items.get(t.item_id) if t.item_id is not None else (items.get(link.item_id) if link else None)
        out.append(SampleRow(
            task_id=t.id, sample_key=t.sample_key, asset=assets.get(t.asset_id), item=item,
            source=sources[item.source_id].name if item is not None and item.source_id in sources else None,
            image_url=link.url if link else None, image_fetched_at=link.fetched_at if link else None,
            annotations=anns.get(t.id, []), task_deleted=t.ls_deleted_at is not None,
            unlicensed=unlicensed(item, sources.get(item.source_id) if item is not None else None),
        ))
    return out


def unlicensed(item: Item | None, source: Source | None) -> bool:
    """An item marked for its missing licence: none stored while its source says `require_licence = true`."""
    return bool(item is not None and not item.licence and source is not None
                and (source.config or {}).get("require_licence"))


def version_by_name(session: Session, name: str) -> DatasetVersion | None:
    return session.scalars(select(DatasetVersion).where(DatasetVersion.name == name)).first()


def version_members(session: Session, version_id: int) -> list[VersionMember]:
    stmt = select(VersionMember).where(VersionMember.version_id == version_id).order_by(VersionMember.sample_key)
    return list(session.scalars(stmt))


def member_rows(session: Session, version_id: int) -> list[Any]:
    """A version's members as light rows (no ORM objects), sorted by sample key: what an export reads."""
    m = VersionMember
    stmt = (
        select(m.sample_key, m.split, m.targets, m.sha256, m.text, m.asset_id, m.annotators, m.annotation_ids,
               m.provenance, Asset.mime, Asset.width, Asset.height)
        .outerjoin(Asset, Asset.id == m.asset_id).where(m.version_id == version_id).order_by(m.sample_key)
    )
    return list(session.execute(stmt))


def insert_version(session: Session, version: dict[str, Any], members: list[dict[str, Any]]) -> DatasetVersion:
    """Add a version and its members in the caller's transaction (members in batches, no commit)."""
    row = DatasetVersion(**version)
    session.add(row)
    session.flush()
    if members:
        rows = [{**m, "version_id": row.id} for m in members]
        per_stmt = max(1, MAX_PARAMS // (len(rows[0]) + 1))
        for start in range(0, len(rows), per_stmt):
            session.execute(VersionMember.__table__.insert(), rows[start:start + per_stmt])
    return row


def list_versions(session: Session) -> list[tuple[DatasetVersion, int, str | None, str | None]]:
    """(version, member count, project name, parent name) for every version, oldest first."""
    counts = dict(session.execute(
        select(VersionMember.version_id, func.count()).group_by(VersionMember.version_id)
    ).all())
    versions = list(session.scalars(select(DatasetVersion).order_by(DatasetVersion.id)))
    projects = _by_id(session, LabelingProject, {v.project_id for v in versions})
    names = {v.id: v.name for v in versions}
    return [
        (v, counts.get(v.id, 0), projects[v.project_id].name if v.project_id in projects else None,
         names.get(v.parent_id))
        for v in versions
    ]


def add_export(session: Session, **fields: Any) -> Export:
    row = Export(**fields)
    session.add(row)
    session.flush()
    return row


def exports_of(session: Session, version_id: int) -> list[Export]:
    return list(session.scalars(select(Export).where(Export.version_id == version_id).order_by(Export.id)))
