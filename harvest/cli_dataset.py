"""`harvest dataset ...`: create, export, list, show and diff dataset versions (wiring only)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

dataset_app = typer.Typer(help="Dataset versions: freeze, export, list, show, diff.", no_args_is_help=True)
console = Console()


def _store():
    from harvest.context import store

    return store()


@dataset_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="New version name (never reused).")],
    project: Annotated[str, typer.Option("--project", "-p", help="Labeling project to freeze.")],
    filter: Annotated[Optional[list[str]], typer.Option("--filter", help="KEY=VALUE: label, source, licence, robots, annotator, quality (ok, FLAG, no-FLAG).")] = None,
    split: Annotated[str, typer.Option(help="train,val,test ratios.")] = "0.8,0.1,0.1",
    seed: Annotated[int, typer.Option(help="Seed of the split and the augmentations.")] = 0,
    group_by: Annotated[str, typer.Option("--group-by", help="near-dup, page, domain or field:NAME.")] = "near-dup",
    policy: Annotated[Optional[Path], typer.Option(help="Augmentation policy file (.yaml/.toml), stored verbatim.")] = None,
    parent: Annotated[Optional[str], typer.Option(help="Parent version: its val/test samples stay put.")] = None,
    revision_rule: Annotated[str, typer.Option("--revision-rule", help="latest, consensus or ground-truth.")] = "latest",
    include_unlicensed: Annotated[bool, typer.Option("--include-unlicensed", help="Keep samples without a licence "
                                  "from sources with require_licence = true (left out by default).")] = False,
) -> None:
    """Freeze a new, immutable dataset version of a labeling project."""
    from export import create_version
    from export.errors import BadVersionSpec
    from export.policy import syntax_of

    policy_text = syntax = None
    if policy is not None:
        syntax = syntax_of(policy)
        try:
            policy_text = policy.read_text(encoding="utf-8")
        except OSError as exc:
            raise BadVersionSpec(f"cannot read the policy file {policy}: {exc.strerror}; check the path.") from None
    st = _store()
    v = create_version(st, name, project, split=split, seed=seed, group_by=group_by, policy_text=policy_text,
                       parent=parent, revision_rule=revision_rule, filters=filter, policy_syntax=syntax or "yaml",
                       include_unlicensed=include_unlicensed)
    s = v.stats
    console.print(f"[green]created[/] {v.name}: {s['samples']} samples "
                  f"(train {s['splits']['train']}, val {s['splits']['val']}, test {s['splits']['test']}); "
                  f"left out {s['skipped_total']}; leakage audit {s['leakage_audit']['leaks']} leaks; "
                  f"content hash {v.content_hash[:16]}")


@dataset_app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="Version to export.")],
    format: Annotated[str, typer.Option("--format", "-f", help="Export format (see `harvest dataset formats`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="New output directory (must not exist).")],
    workers: Annotated[int, typer.Option(help="Parallel workers for copying and augmenting.")] = 1,
    link: Annotated[bool, typer.Option("--link", help="Hard-link images from the blob store instead of reflinking or "
                                       "copying them. Faster, but RISKY: an edit to an exported image then edits the "
                                       "stored blob and every other export of it (find it with `harvest store verify`).")] = False,
    copy: Annotated[bool, typer.Option("--copy", hidden=True, help="Copy images (the default now; kept for old scripts).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse to export if the format cannot hold some targets.")] = False,
) -> None:
    """Write a version in a format, with manifest.json and a README.md data card.

    Images are reflinked where the file system can, else copied, and hashed as they are written.
    """
    from export import export_version
    from harvest.progress import progress_bar

    st = _store()
    with progress_bar(f"export {name}") as bar:
        r = export_version(st, name, format, out, workers=workers, link=link and not copy, strict=strict, progress=bar.stage)
    if r.left_out:
        from export.classes import describe_left_out
        from harvest.context import err_console

        err_console.print(f"[yellow]warning:[/] {describe_left_out(r.format, r.left_out)}; they are not in this export "
                          "(see 'Not in this export' in its README.md; --strict refuses instead).")
    redraws = f"; {r.redrawn} re-drawn, {r.not_emitted} not emitted (no transform applied)" if r.augmented or r.not_emitted else ""
    console.print(f"[green]exported[/] {name} as {r.format} to {r.path}: {r.samples} samples "
                  f"({r.augmented} augmented{redraws}), {r.files} files, manifest sha256 {r.manifest_sha256[:16]}")


@dataset_app.command("formats")
def formats() -> None:
    """List the export formats."""
    from export.formats import registry

    table = Table("format", "holds", "text", "description")
    for name, f in sorted(registry().items()):
        table.add_row(name, ", ".join(sorted(f.kinds)), "yes" if f.text else "no", f.description)
    console.print(table)


@dataset_app.command("list")
def list_() -> None:
    """List dataset versions."""
    from export.queries import list_versions

    table = Table("name", "project", "parent", "samples", "train/val/test", "policy", "content hash", "created")
    for v in list_versions(_store()):
        sp = v["splits"]
        table.add_row(v["name"], v["project"] or "-", v["parent"] or "-", str(v["samples"]),
                      f"{sp.get('train', 0)}/{sp.get('val', 0)}/{sp.get('test', 0)}", "yes" if v["policy"] else "-",
                      v["content_hash"][:12], v["created_at"].strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@dataset_app.command("show")
def show(name: Annotated[str, typer.Argument(help="Version to show.")]) -> None:
    """Settings, counts per split and class, left-out samples, leakage audit and exports of a version."""
    from export.queries import show as show_version

    v = show_version(_store(), name)
    s = v["stats"]
    console.print(f"[bold]{v['name']}[/] of project {v['project']} (parent {v['parent'] or 'none'}), "
                  f"{v['samples']} samples, seed {v['seed']}, split {v['split_ratios']}, group by {v['group_by']}, "
                  f"rule {v['revision_rule']}, content hash {v['content_hash']}")
    classes = Table("class", "train", "val", "test", title="objects per class and split")
    names = sorted({c for sp in s["classes"].values() for c in sp})
    for c in names:
        classes.add_row(c, *(str(s["classes"][sp].get(c, 0)) for sp in ("train", "val", "test")))
    console.print(classes)
    left = Table("left out because", "samples")
    for reason, n in s["skipped"].items():
        left.add_row(reason, str(n))
    console.print(left)
    review = s.get("needs_review") or {}
    if review.get("samples"):
        console.print(f"needs review (held out, annotators disagree): {review['samples']} samples; by kind: "
                      + ", ".join(f"{k} {n}" for k, n in review["by_kind"].items()), highlight=False)
        for key, reasons in list(review["reasons"].items())[:10]:
            console.print(f"  {key}: " + "; ".join(reasons), markup=False, highlight=False)
        if review["samples"] > 10:
            console.print(f"  ... and {review['samples'] - 10} more (`harvest label review {v['project']}` sends them "
                          "to a reviewer)", markup=False, highlight=False)
    audit = s["leakage_audit"]
    console.print(f"leakage audit: {audit['cross_split_clusters']} clusters, {audit['cross_split_groups']} groups, "
                  f"{audit['cross_split_phash_pairs']} pHash pairs across splits")
    if v["policy_text"]:
        console.print("[bold]augmentation policy[/]:")
        console.print(v["policy_text"], markup=False, highlight=False)
    exports = Table("format", "path", "files", "manifest sha256", title="exports")
    for e in v["exports"]:
        exports.add_row(e["format"], e["path"], str(e["files"]), e["manifest_sha256"][:16])
    console.print(exports)


@dataset_app.command("diff")
def diff(a: Annotated[str, typer.Argument(help="Older version.")], b: Annotated[str, typer.Argument(help="Newer version.")]) -> None:
    """Samples added and removed, label changes, split moves, policy changes and per-class impact."""
    from export.queries import diff as diff_versions

    d = diff_versions(_store(), a, b)
    console.print(f"{a} -> {b}: {len(d['added'])} added, {len(d['removed'])} removed, "
                  f"{len(d['label_changes'])} relabelled, {len(d['split_moves'])} moved between splits")
    for key, (old, new) in d["settings"].items():
        console.print(f"setting {key}: {old} -> {new}", markup=False, highlight=False)
    if d["split_moves"]:
        t = Table("sample", "from", "to", title="split moves")
        for m in d["split_moves"]:
            t.add_row(m["sample"], m["from"], m["to"])
        console.print(t)
    if d["label_changes"]:
        t = Table("sample", "change", title="label changes")
        for c in d["label_changes"]:
            t.add_row(c["sample"], "; ".join(f"{k}: {v}" for k, v in c.items() if k != "sample"))
        console.print(t)
    t = Table("class", "before", "after", "delta", "samples added", "samples removed", title="per-class impact")
    for c, row in d["per_class"].items():
        t.add_row(c, str(row["before"]), str(row["after"]), f"{row['delta']:+d}", str(row["samples_added"]),
                  str(row["samples_removed"]))
    console.print(t)
    if d["policy_diff"]:
        console.print("[bold]policy changed[/]:\n" + "\n".join(d["policy_diff"]), highlight=False)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    app.add_typer(dataset_app, name="dataset")
