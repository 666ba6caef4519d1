"""Read-side helpers for the CLI and the demo: a version's summary and its diff view."""
from __future__ import annotations

from typing import Any

from export.diff import VersionView, diff_versions
from export.errors import VersionNotFound
from storage import datasets as q

SETTINGS = ("seed", "split_ratios", "group_by", "revision_rule", "filter")


def _version(session: Any, name: str):
    row = q.version_by_name(session, name)
    if row is None:
        raise VersionNotFound(f"dataset version {name!r} does not exist; see `harvest dataset list`.")
    return row


def version_view(store: Any, name: str) -> VersionView:
    with store.sessions() as session:
        v = _version(session, name)
        members = {m.sample_key: (m.split, list(m.targets)) for m in q.version_members(session, v.id)}
        return VersionView(v.name, members, v.policy_text, {k: getattr(v, k) for k in SETTINGS})


def diff(store: Any, a: str, b: str) -> dict[str, Any]:
    return diff_versions(version_view(store, a), version_view(store, b))


def list_versions(store: Any) -> list[dict[str, Any]]:
    with store.sessions() as session:
        return [
            {"name": v.name, "project": project, "parent": parent, "samples": n, "splits": v.stats.get("splits", {}),
             "content_hash": v.content_hash, "created_at": v.created_at, "policy": bool(v.policy_text)}
            for v, n, project, parent in q.list_versions(session)
        ]


def show(store: Any, name: str) -> dict[str, Any]:
    with store.sessions() as session:
        v = _version(session, name)
        listed = {row[0].id: row for row in q.list_versions(session)}
        _, n, project, parent = listed[v.id]
        exports = [{"format": e.format, "path": e.path, "manifest_sha256": e.manifest_sha256, "files": e.file_count,
                    "created_at": e.created_at} for e in q.exports_of(session, v.id)]
        return {"name": v.name, "project": project, "parent": parent, "samples": n, "content_hash": v.content_hash,
                "created_at": v.created_at, "policy_text": v.policy_text, "stats": v.stats, "exports": exports,
                **{k: getattr(v, k) for k in SETTINGS}}
