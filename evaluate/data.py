"""What the model loop reads and writes in the store: a version's members with their slice facts,
a model's stored predictions, and every current annotation (for the human bound)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select

from evaluate.errors import NoPredictions
from export.errors import VersionNotFound
from export.revisions import Revision, current_revisions
from storage import datasets as q
from storage.collect_models import Asset
from storage.eval_models import ModelPrediction
from storage.label_models import Annotation
from storage.quality import quality_of
from storage.upsert import MAX_PARAMS, upsert


@dataclass
class Member:
    """One sample of a version: its frozen targets and what the slices group it by."""

    key: str
    split: str
    targets: list[dict[str, Any]]
    width: int | None
    height: int | None
    annotators: list[str]
    facts: dict[str, Any] = field(default_factory=dict)  # source, domain, licence, cluster_size, quality...
    task_id: int | None = None


def version_row(session: Any, name: str):
    row = q.version_by_name(session, name)
    if row is None:
        raise VersionNotFound(f"dataset version {name!r} does not exist; see `harvest dataset list`.")
    return row


def members(store: Any, name: str, split: str | None = None) -> list[Member]:
    """The version's members (of one split, or all when `split` is None or 'all'), sorted by key."""
    with store.sessions() as session:
        version = version_row(session, name)
        rows = [m for m in q.version_members(session, version.id) if split in (None, "all") or m.split == split]
        asset_ids = [m.asset_id for m in rows if m.asset_id is not None]
        assets: dict[int, Asset] = {}
        for start in range(0, len(asset_ids), MAX_PARAMS // 2):
            chunk = asset_ids[start:start + MAX_PARAMS // 2]
            assets.update({a.id: a for a in session.scalars(select(Asset).where(Asset.id.in_(chunk)))})
        clusters = [a.cluster_id for a in assets.values() if a.cluster_id is not None]
        sizes = dict(session.execute(select(Asset.cluster_id, func.count()).where(Asset.cluster_id.in_(set(clusters)))
                                     .group_by(Asset.cluster_id)).all()) if clusters else {}
        quality = quality_of(session, asset_ids)
    out = []
    for m in rows:
        asset = assets.get(m.asset_id)
        prov = m.provenance or {}
        host = urlsplit(prov.get("page_url") or "").hostname
        facts = {"source": prov.get("source"), "domain": host, "licence": prov.get("licence"),
                 "cluster_size": sizes.get(asset.cluster_id, 1) if asset and asset.cluster_id else 1,
                 "quality": quality.get(m.asset_id)}
        out.append(Member(m.sample_key, m.split, list(m.targets), asset.width if asset else None,
                          asset.height if asset else None, list(m.annotators or []), facts, m.task_id))
    return out


def store_predictions(store: Any, version_name: str, model: str, preds: dict[str, list[dict[str, Any]]],
                      fmt: str, source_file: str) -> int:
    """Upsert one row per (sample, model); other models' rows are untouched. One transaction."""
    from storage.base import utcnow
    from storage.engine import session_scope

    with session_scope(store.sessions) as session:
        version = version_row(session, version_name)
        now = utcnow()
        rows = [{"sample_key": k, "model": model, "version_id": version.id, "targets": v, "source_format": fmt,
                 "source_file": source_file, "imported_at": now} for k, v in sorted(preds.items())]
        per = MAX_PARAMS // 8
        for start in range(0, len(rows), per):
            upsert(session, ModelPrediction, rows[start:start + per], conflict=["sample_key", "model"],
                   update=["version_id", "targets", "source_format", "source_file", "imported_at"])
    return len(rows)


def predictions(store: Any, model: str, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """sample key -> the model's targets, for those of `keys` it predicted; NoPredictions when none."""
    out: dict[str, list[dict[str, Any]]] = {}
    with store.sessions() as session:
        for start in range(0, len(keys), MAX_PARAMS // 2):
            chunk = keys[start:start + MAX_PARAMS // 2]
            stmt = select(ModelPrediction.sample_key, ModelPrediction.targets).where(
                ModelPrediction.model == model, ModelPrediction.sample_key.in_(chunk))
            out.update({k: list(t) for k, t in session.execute(stmt)})
        if not out:
            models = sorted(session.scalars(select(ModelPrediction.model).distinct()))
            raise NoPredictions(f"model {model!r} has no predictions for these {len(keys)} samples (models with "
                                f"predictions: {models or 'none'}); run `harvest predictions import` first.")
    return out


def project_labels(store: Any, name: str) -> set[str]:
    """The label set of the project a version was frozen from (empty when the project is gone)."""
    from storage.label_models import LabelingProject

    with store.sessions() as session:
        version = version_row(session, name)
        project = session.get(LabelingProject, version.project_id) if version.project_id else None
        return set(project.labels or []) if project else set()


def stored_keys(store: Any) -> set[str]:
    """Sample keys of every stored image ("asset:ID") and text item ("item:ID")."""
    from storage.collect_models import Item

    with store.sessions() as session:
        assets = {f"asset:{i}" for i in session.scalars(select(Asset.id))}
        items = {f"item:{i}" for i in session.scalars(select(Item.id).where(Item.text.is_not(None)))}
    return assets | items


def model_names(store: Any) -> list[str]:
    with store.sessions() as session:
        return sorted(session.scalars(select(ModelPrediction.model).distinct()))


def annotations_by_annotator(store: Any, members_: list[Member]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """sample key -> {annotator: targets} from every current annotation of the members' tasks."""
    by_task = {m.task_id: m.key for m in members_ if m.task_id is not None}
    revs: dict[int, list[Revision]] = defaultdict(list)
    ids = sorted(by_task)
    with store.sessions() as session:
        for start in range(0, len(ids), MAX_PARAMS // 2):
            stmt = select(Annotation).where(Annotation.task_id.in_(ids[start:start + MAX_PARAMS // 2]))
            for a in session.scalars(stmt):
                revs[a.task_id].append(Revision(a.id, a.ls_annotation_id, a.revision, a.annotator, a.updated_at,
                                                a.was_cancelled, a.ground_truth, a.deleted_at is not None,
                                                list(a.targets or []), a.valid))
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for task_id, rs in revs.items():
        per: dict[str, list[dict[str, Any]]] = {}
        for r in current_revisions(rs):
            per[r.annotator or f"annotation {r.ls_annotation_id}"] = r.targets  # the newest per annotator wins
        out[by_task[task_id]] = per
    return out
