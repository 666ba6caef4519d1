"""Freeze a dataset version: members, annotation revisions, split, policy, seed and content hash."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.exc import IntegrityError

from storage.agreement import agreement
from export.audit import leakage_audit
from export.canonical import sha256_json, sha256_text
from export.errors import BadVersionSpec, EmptyVersion, LeakageError, VersionExists, VersionNotFound
from export.policy import load_policy
from export.quality_filter import parse_quality_filter, quality_flags, quality_keep
from export.revisions import RULES, Revision, current_revisions, freeze
from export.split import SPLITS, SplitSample, assign_splits, parse_ratios
from storage import datasets as q
from storage.engine import session_scope
from storage.targets import target_labels

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
FILTER_KEYS = ("label", "source", "licence", "robots", "annotator", "quality")
DEFAULT_PHASH_THRESHOLD = 6


def parse_group_by(value: str | None) -> str | None:
    if value in (None, "", "near-dup"):
        return None
    if value in ("page", "domain") or (value.startswith("field:") and len(value) > 6):
        return value
    raise BadVersionSpec(f"--group-by {value!r} is unknown; expected near-dup, page, domain or field:NAME.")


def parse_filters(items: Sequence[str] | dict[str, str] | None) -> dict[str, str]:
    """'key=value' strings (or a dict) -> {key: value}; keys: label, source, licence, robots, annotator, quality."""
    if not items:
        return {}
    pairs = items.items() if isinstance(items, dict) else [i.partition("=")[::2] for i in items]
    out = {}
    for key, value in pairs:
        if key not in FILTER_KEYS or not value:
            raise BadVersionSpec(f"filter {key}={value!r} is not understood; use KEY=VALUE with KEY one of {FILTER_KEYS}.")
        if key == "quality":
            parse_quality_filter(value)
        out[key] = value
    return out


def _group_key(row: q.SampleRow, group_by: str | None) -> str | None:
    item = row.item
    if group_by is None or item is None:
        return None
    if group_by == "page":
        return f"page:{item.page_url}"
    if group_by == "domain":
        return f"domain:{(urlsplit(item.page_url).hostname or '').lower()}"
    value = (item.fields or {}).get(group_by[6:])
    return None if value is None else f"{group_by}={value}"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def provenance(row: q.SampleRow) -> dict[str, Any]:
    item = row.item
    return {
        "image_url": row.image_url,
        "page_url": item.page_url if item else None,
        "canonical_url": item.canonical_url if item else None,
        "fetched_at": _iso(row.image_fetched_at) or (_iso(item.fetched_at) if item else None),
        "page_fetched_at": _iso(item.fetched_at) if item else None,
        "licence": item.licence if item else None,
        "attribution": item.attribution if item else None,
        "robots_decision": item.robots_decision if item else None,
        "source": row.source,
    }


def _keep(filters: dict[str, str], labels: list[str], prov: dict[str, Any], annotators: list[str],
          raised: list[str] | None = None) -> bool:
    checks = {
        "label": lambda v: v in labels,
        "source": lambda v: prov["source"] == v,
        "licence": lambda v: v.lower() in (prov["licence"] or "").lower(),
        "robots": lambda v: prov["robots_decision"] == v,
        "annotator": lambda v: v in annotators,
        "quality": lambda v: quality_keep(v, raised),
    }
    return all(checks[k](v) for k, v in filters.items())


def _revisions(row: q.SampleRow) -> list[Revision]:
    return [
        Revision(a.id, a.ls_annotation_id, a.revision, a.annotator, a.updated_at, a.was_cancelled,
                 a.ground_truth, a.deleted_at is not None, list(a.targets or []), getattr(a, "valid", True))
        for a in row.annotations
    ]


def content_key(sha256: str | None, provenance: dict[str, Any] | None, text: str | None) -> str:
    """A sample's identity from its content, never from database ids or crawl order.

    An image is its asset's sha256; a text is its item's canonical URL (or, without one, its text's sha256).
    Splits, augmentation seeds and the content hash are keyed by this.
    """
    if sha256:
        return f"sha256:{sha256}"
    url = (provenance or {}).get("canonical_url")
    if url:
        return f"url:{url}"
    return f"text:{sha256_text(text or '')}"


def member_content_key(m: Any) -> str:
    """``content_key`` of a stored member (a dict being frozen, or a VersionMember row)."""
    get = m.get if isinstance(m, dict) else lambda k: getattr(m, k)
    return content_key(get("sha256"), get("provenance"), get("text"))


def content_hash(members: list[dict[str, Any]], policy_text: str | None, seed: int) -> str:
    """sha256 over the canonical serialization of members (by content key), frozen targets, splits, policy, seed.

    Database ids (sample keys, annotation row ids) are left out: the same crawled bytes, annotations and
    seed give the same hash in any crawl order, on any machine.
    """
    return sha256_json({
        "members": sorted(
            ({"key": member_content_key(m), "sha256": m["sha256"], "targets": m["targets"], "split": m["split"],
              "text": sha256_text(m["text"]) if m["text"] is not None else None} for m in members),
            key=lambda m: m["key"]),
        "policy": policy_text,
        "seed": seed,
    })


def create_version(
    store: Any, name: str, project: str, split: str | Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0,
    group_by: str | None = None, policy_text: str | None = None, parent: str | None = None,
    revision_rule: str = "latest", filters: Sequence[str] | dict[str, str] | None = None,
    phash_threshold: int | None = None, policy_syntax: str = "yaml", include_unlicensed: bool = False,
):
    """Freeze a new version named `name` from the project's annotations in one transaction."""
    if not isinstance(name, str) or not NAME.match(name):
        raise BadVersionSpec(f"version name {name!r} must be letters, digits, '.', '_' or '-' (max 200), e.g. cats-v1.")
    ratios = parse_ratios(split)
    group_by = parse_group_by(group_by)
    filters = parse_filters(filters)
    if revision_rule not in RULES:
        raise BadVersionSpec(f"revision rule {revision_rule!r} is unknown; expected one of {', '.join(RULES)}.")
    policy_dict = load_policy(policy_text, policy_syntax)[1] if policy_text else None
    if phash_threshold is None:
        crawl = getattr(getattr(store, "settings", None), "crawl", None)
        phash_threshold = getattr(crawl, "near_dup_threshold", DEFAULT_PHASH_THRESHOLD)
    with session_scope(store.sessions) as session:
        if q.version_by_name(session, name) is not None:
            raise VersionExists(f"dataset version {name!r} exists already and versions never change; pick a new name.")
        proj = q.project_by_name(session, project)
        if proj is None:
            known = ", ".join(q.project_names(session)) or "none yet"
            raise VersionNotFound(f"labeling project {project!r} does not exist (known: {known}).")
        pinned, parent_id = {}, None
        if parent is not None:
            prow = q.version_by_name(session, parent)
            if prow is None:
                raise VersionNotFound(f"parent version {parent!r} does not exist; see `harvest dataset list`.")
            parent_id = prow.id
            pinned = {member_content_key(m): m.split for m in q.version_members(session, prow.id)}
        members, skipped, seen_sha, review = [], Counter(), {}, {}
        several: dict[str, dict[int, list[dict[str, Any]]]] = {}
        samples = q.project_samples(session, proj.id)
        raised = quality_flags(session, store, samples) if "quality" in filters else {}
        for row in samples:
            if row.asset is None and (row.item is None or not row.item.text):
                skipped["no image or text (asset or item gone)"] += 1
                continue
            if row.task_deleted:
                skipped["task deleted in Label Studio"] += 1
                continue
            if row.unlicensed and not include_unlicensed:  # its source has require_licence = true
                skipped["no licence (its source requires one; --include-unlicensed)"] += 1
                continue
            revs = _revisions(row)
            frozen = freeze(revs, revision_rule)
            if frozen.targets is None:
                skipped[frozen.skipped] += 1
                if frozen.review:
                    review[row.sample_key] = frozen.review
                continue
            prov = provenance(row)
            text = row.item.text if row.asset is None else None
            if not _keep(filters, target_labels(frozen.targets), prov, frozen.annotators,
                         raised.get(row.asset.id) if row.asset is not None else None):
                skipped["filtered out"] += 1
                continue
            sha = row.asset.sha256 if row.asset else None
            if sha is not None and sha in seen_sha:
                skipped["duplicate image (same sha256 as another sample)"] += 1
                continue
            if sha is not None:
                seen_sha[sha] = row.sample_key
            current = current_revisions(revs)
            if len(current) > 1:
                several[row.sample_key] = {r.ls_annotation_id: r.targets for r in current}
            members.append({
                "sample_key": row.sample_key, "asset_id": row.asset.id if row.asset else None,
                "item_id": row.item.id if row.item else None, "task_id": row.task_id,
                "annotation_ids": frozen.annotation_ids, "targets": frozen.targets,
                "annotators": frozen.annotators, "sha256": sha,
                "text": text, "provenance": prov,
                "_split": SplitSample(
                    content_key(sha, prov, text), tuple(target_labels(frozen.targets)),
                    cluster=row.asset.cluster_id if row.asset else None, group=_group_key(row, group_by),
                    phash=row.asset.phash if row.asset else None,
                ),
            })
        if not members:
            raise EmptyVersion(
                f"project {project!r} has no sample with a usable annotation under rule {revision_rule!r} "
                f"(left out: {dict(skipped) or 'no tasks'}); label some samples and pull them first."
            )
        split_samples = [m.pop("_split") for m in members]
        result = assign_splits(split_samples, ratios, seed, pinned, phash_threshold)
        audit = leakage_audit(split_samples, result.splits, phash_threshold)
        if audit["leaks"]:
            raise LeakageError(f"the leakage audit of {name!r} found {audit['leaks']} leaks ({audit['examples']}); "
                               "nothing was written. Please report this as a bug.")
        for m, s in zip(members, split_samples):
            m["split"] = result.splits[s.key]
            m["group_key"] = result.groups[s.key][:512]  # the group's smallest content key
        stats = version_stats(members, split_samples, skipped, audit, result, several, review)
        version = {
            "name": name, "project_id": proj.id, "parent_id": parent_id, "seed": seed, "split_ratios": list(ratios),
            "group_by": group_by or "near-dup", "revision_rule": revision_rule, "filter": filters,
            "policy_text": policy_text, "policy": policy_dict,
            "content_hash": content_hash(members, policy_text, seed), "stats": stats,
        }
        try:
            row = q.insert_version(session, version, members)
            session.flush()
        except IntegrityError as exc:
            raise VersionExists(f"dataset version {name!r} was just created by someone else; pick a new name.") from exc
    return row


def _agreement(several: dict[str, dict[int, list[dict[str, Any]]]]) -> dict[str, Any]:
    """Inter-annotator agreement over samples with several current annotations (the label stage's measure)."""
    table = agreement(several)
    return {"samples_with_several_annotations": table.tasks, "kappa": table.kappa, "kappa_kind": table.kappa_kind or None,
            "per_label_kappa": table.per_label, "f1": table.f1, "disputed_samples": len(table.review)}


def needs_review_stats(review: dict[str, list[str]]) -> dict[str, Any]:
    """Samples held out because annotators disagree: how many, per kind of reason, and each one's reasons."""
    kinds = Counter(reason.split(" ", 1)[0] if not reason.startswith("annotation ") else reason.split(": ", 1)[1].split(" ", 1)[0]
                    for reasons in review.values() for reason in reasons)
    return {"samples": len(review), "by_kind": dict(sorted(kinds.items())),
            "reasons": {key: review[key] for key in sorted(review)}}


def version_stats(members, split_samples, skipped, audit, result, several, review=None) -> dict[str, Any]:
    per_split = Counter(m["split"] for m in members)
    per_class: dict[str, Counter] = {sp: Counter() for sp in SPLITS}
    for m, s in zip(members, split_samples):
        per_class[m["split"]].update(s.labels)
    clusters = Counter(s.cluster for s in split_samples if s.cluster is not None)
    sample_of = {s.key: m["sample_key"] for m, s in zip(members, split_samples)}
    return {
        "samples": len(members),
        "splits": {sp: per_split.get(sp, 0) for sp in SPLITS},
        "classes": {sp: dict(sorted(per_class[sp].items())) for sp in SPLITS},
        "skipped": dict(sorted(skipped.items())),
        "skipped_total": sum(skipped.values()),
        "duplicates_removed": skipped.get("duplicate image (same sha256 as another sample)", 0),
        "near_dup_clusters": sum(1 for n in clusters.values() if n > 1),
        "near_dup_samples": sum(n for n in clusters.values() if n > 1),
        "groups": len(set(result.groups.values())),
        "pinned_from_parent": result.pinned,
        "moved_by_group": sorted(sample_of[k] for k in result.moved_by_group),
        "annotators": dict(sorted(Counter(a for m in members for a in m["annotators"]).items())),
        "agreement": _agreement(several),
        "needs_review": needs_review_stats(review or {}),
        "leakage_audit": audit,
    }
