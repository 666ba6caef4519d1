"""Dataset versions: stats, exports, the original-vs-augmented gallery, and the diff between two versions."""
from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from export.diff import VersionView, diff_versions
from storage.blobs import Blobs, check_key, local_copy
from storage.models import DatasetVersion, Export, VersionMember

GALLERY = 6  # train samples shown with their first augmented copy
LIST_LIMIT = 200
_diffs: dict[tuple[int, int], dict[str, Any]] = {}


def versions(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(DatasetVersion).order_by(DatasetVersion.id.desc())).all()
    exports = dict(session.execute(select(Export.version_id, func.count()).group_by(Export.version_id)).all())
    names = {v.id: v.name for v in rows}
    return [{"version": v, "parent": names.get(v.parent_id), "exports": exports.get(v.id, 0)} for v in rows]


def version_page(session: Session, name: str) -> dict[str, Any] | None:
    v = session.scalar(select(DatasetVersion).where(DatasetVersion.name == name))
    if v is None:
        return None
    stats = v.stats or {}
    gallery = []
    if v.policy_text:
        gallery = list(session.scalars(
            select(VersionMember).where(VersionMember.version_id == v.id, VersionMember.split == "train",
                                        VersionMember.sha256.is_not(None))
            .order_by(VersionMember.sample_key).limit(GALLERY)))
    parent = session.get(DatasetVersion, v.parent_id) if v.parent_id else None
    skipped = stats.get("skipped") or {}
    review = (stats.get("needs_review") or {}).get("reasons") or {}
    return {
        "version": v, "stats": stats, "parent": parent, "skipped": skipped,
        "review": sorted(review.items())[:LIST_LIMIT], "review_total": len(review),
        "audit": stats.get("leakage_audit") or {}, "agreement": stats.get("agreement") or {},
        "exports": session.scalars(select(Export).where(Export.version_id == v.id).order_by(Export.id)).all(),
        "gallery": gallery, "others": [n for n in session.scalars(select(DatasetVersion.name)
                                                                  .order_by(DatasetVersion.id)) if n != name],
    }


def _view(session: Session, v: DatasetVersion) -> VersionView:
    members = {k: (sp, t) for k, sp, t in session.execute(
        select(VersionMember.sample_key, VersionMember.split, VersionMember.targets)
        .where(VersionMember.version_id == v.id))}
    settings = {"seed": v.seed, "split_ratios": v.split_ratios, "group_by": v.group_by,
                "revision_rule": v.revision_rule, "filter": v.filter}
    return VersionView(v.name, members, v.policy_text, settings)


def diff(session: Session, a_name: str, b_name: str) -> dict[str, Any] | None:
    """export.diff over two versions (cached: versions never change), plus member ids to draw changes."""
    a = session.scalar(select(DatasetVersion).where(DatasetVersion.name == a_name))
    b = session.scalar(select(DatasetVersion).where(DatasetVersion.name == b_name))
    if a is None or b is None:
        return None
    key = (a.id, b.id)
    if key not in _diffs:
        if len(_diffs) > 16:
            _diffs.clear()
        _diffs[key] = diff_versions(_view(session, a), _view(session, b))
    d = _diffs[key]
    shown = [c["sample"] for c in d["label_changes"][:LIST_LIMIT]]
    ids: dict[tuple[int, str], tuple[int, int | None]] = {}
    if shown:
        for vid, key_, mid, asset in session.execute(
                select(VersionMember.version_id, VersionMember.sample_key, VersionMember.id, VersionMember.asset_id)
                .where(VersionMember.version_id.in_([a.id, b.id]), VersionMember.sample_key.in_(shown))):
            ids[(vid, key_)] = (mid, asset)
    changes = [{**c, "old": ids.get((a.id, c["sample"])), "new": ids.get((b.id, c["sample"]))}
               for c in d["label_changes"][:LIST_LIMIT]]
    return {"a": a, "b": b, "diff": d, "changes": changes, "limit": LIST_LIMIT}


def augmented_copy(version: DatasetVersion, member: VersionMember, blobs: Blobs, cache_dir: Path,
                   k: int = 0) -> tuple[Image.Image, list[dict[str, Any]]]:
    """Copy `k` of a train member as the export renders it (same policy, seed and sample id)."""
    from export.policy import policy_of_version, render
    from export.replay import seed_key

    sha = check_key(member.sha256 or "")
    path = local_copy(blobs, sha, cache_dir / "blobs")
    policy = policy_of_version(version.policy_text or "", version.policy)
    result = next(iter(render([(seed_key(sha), path, list(member.targets), k)], policy, version.seed, 1)))
    with Image.open(io.BytesIO(result.data)) as img:
        img.load()
        return img.convert("RGB"), list(result.targets)


def gallery_name(version: DatasetVersion, member: VersionMember, k: int = 0) -> str:
    return hashlib.sha256(f"gallery|{version.content_hash}|{member.sha256}|{k}".encode()).hexdigest()
