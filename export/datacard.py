"""README.md data card of an export: counts, class balance, sources, licences, annotators, audit, augmentation."""
from __future__ import annotations

from collections import Counter
from typing import Any

from export.split import SPLITS


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out + [""]


def datacard(version: dict[str, Any], fmt: str, samples: list[dict[str, Any]], stats: dict[str, Any],
             classes: list[str] | None = None, left_out: dict[str, dict[str, int]] | None = None,
             augmentation: dict[str, Any] | None = None) -> str:
    """Markdown text; depends only on the version and the exported samples (no dates, no paths)."""
    originals = [s for s in samples if "augmented_from" not in s]
    augmented = [s for s in samples if "augmented_from" in s]
    lines = [f"# {version['name']}", "",
             f"Dataset version `{version['name']}` of project `{version['project']}`, exported as `{fmt}` by harvest.", "",
             f"- content hash: `{version['content_hash']}`",
             f"- seed: {version['seed']}; split ratios train/val/test: {version['split_ratios']}",
             f"- grouped by: {version['group_by']}; revision rule: {version['revision_rule']}",
             f"- parent version: {version['parent'] or 'none'}", ""]
    per_split = Counter(s["split"] for s in samples)
    lines += ["## Samples per split", ""]
    lines += _table(["split", "originals", "augmented", "total"], [
        [sp, sum(1 for s in originals if s["split"] == sp), sum(1 for s in augmented if s["split"] == sp), per_split[sp]]
        for sp in SPLITS
    ])
    per_split_class: dict[str, Counter] = {sp: Counter() for sp in SPLITS}
    for s in samples:
        per_split_class[s["split"]].update(s["labels"])
    names = sorted(set().union(*per_split_class.values()))
    total = Counter()
    for c in per_split_class.values():
        total.update(c)
    lines += ["## Classes (objects or labels per split)", ""]
    lines += _table(["class", *SPLITS, "total", "share"], [
        [n, *(per_split_class[sp][n] for sp in SPLITS), total[n], f"{total[n] / max(1, sum(total.values())):.1%}"] for n in names
    ])
    if total:
        most, least = max(total.values()), min(total.values())
        lines += [f"Class balance: the most frequent class has {most / least:.2f}x the instances of the rarest.", ""]
    if classes is not None:
        lines += ["## Class ids", "", "Fixed by the project's label order (a new label gets the next id); the same mapping "
                  "is in manifest.json (`classes`) and in the format's own label file.", ""]
        lines += _table(["id", "class"], [[i, c] for i, c in enumerate(classes)] or [["-", "none"]])
    lines += ["## Not in this export", ""]
    if left_out:
        lines += [f"Format `{fmt}` cannot hold these target types; they were left out (`--strict` refuses instead).", ""]
        lines += _table(["target type", "targets", "samples"],
                        [[k, v["targets"], v["samples"]] for k, v in sorted(left_out.items())])
    else:
        lines += ["Nothing: every target of the version is in this export.", ""]
    lines += ["## Sources and licences", ""]
    lines += _table(["source", "licence", "robots", "samples"], [
        [*key, n] for key, n in sorted(Counter(
            (s.get("source") or "-", s.get("licence") or "unknown", s.get("robots_decision") or "-") for s in originals
        ).items())
    ])
    unlicensed = sum(1 for s in originals if not s.get("licence"))
    lines += [f"Samples without a licence: {unlicensed} (sources with `require_licence = true` leave theirs out of "
              f"versions unless `--include-unlicensed`; see the left-out table).", ""]
    agreement = stats.get("agreement", {})
    lines += ["## Annotators and agreement", ""]
    lines += _table(["annotator", "samples"], [[a, n] for a, n in sorted(stats.get("annotators", {}).items())])
    kappa = agreement.get("kappa")
    f1 = ", ".join(f"{k} F1 {v:.3f}" for k, v in sorted((agreement.get("f1") or {}).items()) if v is not None)
    lines += [f"Samples with several annotations: {agreement.get('samples_with_several_annotations', 0)}; "
              f"{agreement.get('kappa_kind') or 'kappa'}: {'n/a' if kappa is None else f'{kappa:.3f}'}"
              f"{'; ' + f1 if f1 else ''}; samples with disagreements: {agreement.get('disputed_samples', 0)}.", ""]
    lines += ["## Left out and duplicates", ""]
    skipped = stats.get("skipped", {})
    lines += _table(["reason", "samples"], [[r, n] for r, n in sorted(skipped.items())] or [["none", 0]])
    review = stats.get("needs_review") or {}
    if review.get("samples"):
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(review.get("by_kind", {}).items()))
        lines += [f"Held out as needs review: {review['samples']} samples whose annotators disagree, so at least one "
                  f"object or label on them is undecided (reasons by kind: {kinds}). They are not in any split; "
                  "`harvest label review` sends them to a reviewer, whose annotation decides them in later versions.", ""]
    lines += [f"Exact duplicates removed: {stats.get('duplicates_removed', 0)}. Near-duplicate clusters kept whole in one "
              f"split: {stats.get('near_dup_clusters', 0)} ({stats.get('near_dup_samples', 0)} samples).", ""]
    audit = stats.get("leakage_audit", {})
    lines += ["## Leakage audit", ""]
    lines += _table(["check", "found"], [
        ["near-duplicate clusters in more than one split", audit.get("cross_split_clusters", 0)],
        ["group keys in more than one split", audit.get("cross_split_groups", 0)],
        [f"pHash pairs within {audit.get('phash_threshold')} bits across splits", audit.get("cross_split_phash_pairs", 0)],
    ])
    lines += ["## Augmentation", ""]
    if not version.get("policy_sha256"):
        lines += ["No augmentation policy.", ""]
    else:
        per_class = Counter(l for s in augmented for l in set(s["labels"]))
        lines += [f"Policy sha256 `{version['policy_sha256']}`; train split only; {len(augmented)} augmented copies of "
                  f"{len({s['augmented_from'] for s in augmented})} samples. Each copy's seed is derived from "
                  "(version seed, the image's sha256, k); its transforms and sampled parameters are listed in "
                  "manifest.json, and `harvest dataset replay` re-renders it from the export.", ""]
        if augmentation is not None:
            lines += [f"Every copy has at least one transform applied: {augmentation.get('redrawn', 0)} copies were "
                      "re-drawn because their first draw applied none, and "
                      f"{augmentation.get('not_emitted', 0)} were not emitted (none applied after every re-draw).", ""]
        lines += _table(["class", "augmented copies"], [[c, n] for c, n in sorted(per_class.items())])
    lines += ["## Provenance", "", "`manifest.json` lists every file with its sha256 and, per sample, the image URL, page URL, "
              "fetch time, licence, robots decision, annotators and the Label Studio annotation ids with their revisions.", ""]
    return "\n".join(lines)
