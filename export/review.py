"""Which samples of a project need review under a revision rule, with each annotator's regions to show."""
from __future__ import annotations

from typing import Any

from export.errors import BadVersionSpec, VersionNotFound
from export.revisions import RULES, current_revisions, freeze
from storage import datasets as q


def needs_review(store: Any, project: str, rule: str = "consensus") -> dict[str, dict[str, Any]]:
    """{sample_key: {"reasons": [...], "predictions": [one group per current annotation]}} of held-out samples.

    The groups are ``{"model_version": "review/<annotator>", "score": None, "targets": [...]}``, what
    ``annotation.review_queue.send_for_review`` shows the reviewer.
    """
    from export.versions import _revisions

    if rule not in RULES:
        raise BadVersionSpec(f"revision rule {rule!r} is unknown; expected one of {', '.join(RULES)}.")
    out: dict[str, dict[str, Any]] = {}
    with store.sessions() as session:
        proj = q.project_by_name(session, project)
        if proj is None:
            raise VersionNotFound(f"labeling project {project!r} does not exist (known: "
                                  f"{', '.join(q.project_names(session)) or 'none yet'}).")
        for row in q.project_samples(session, proj.id):
            revs = _revisions(row)
            frozen = freeze(revs, rule)
            if not frozen.review:
                continue
            groups, seen = [], set()
            for rev in current_revisions(revs, keep_empty=True):
                name = f"review/{rev.annotator or f'annotation-{rev.ls_annotation_id}'}"
                if name in seen:
                    name = f"{name}-{rev.ls_annotation_id}"
                seen.add(name)
                groups.append({"model_version": name[:200], "score": None, "targets": list(rev.targets)})
            out[row.sample_key] = {"reasons": frozen.review, "predictions": groups}
    return out
