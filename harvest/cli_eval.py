"""`harvest predictions import|list`, `harvest eval`, `harvest issues`, `harvest quality` (wiring only)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _box(t: dict[str, Any] | None) -> str:
    if not t:
        return "-"
    if t.get("type") == "bbox":
        where = ",".join(f"{t[k]:.0f}" for k in ("x_min", "y_min", "x_max", "y_max"))
        return f"{t['label']} [{where}]" + (f" {t['score']:.2f}" if "score" in t else "")
    return f"{t.get('label')}" + (f" {t['score']:.2f}" if "score" in t else "")


def register(app: typer.Typer) -> None:
    from harvest.context import console, settings, store

    preds = typer.Typer(help="A model's predictions: import and list.", no_args_is_help=True)
    app.add_typer(preds, name="predictions")

    @preds.command("import")
    def import_cmd(
        version: Annotated[str, typer.Argument(help="Dataset version the predictions were made on.")],
        file: Annotated[Path, typer.Argument(help="COCO results .json, Ultralytics labels folder / .txt, or .jsonl.")],
        model: Annotated[str, typer.Option("--model", "-m", help="Model name (one row per sample and model).")],
        format: Annotated[Optional[str], typer.Option("--format", help="coco, yolo or jsonl (default: by file).")] = None,
        export: Annotated[Optional[Path], typer.Option(help="The export the model predicted on (default: newest).")] = None,
        split: Annotated[str, typer.Option(help="Split the COCO/YOLO file covers (COCO image ids are per split).")] = "test",
    ) -> None:
        """Store a model's predictions per sample, matched through the version's export."""
        from evaluate.predictions import import_predictions

        r = import_predictions(store(), version, file, model, format, export, split)
        console.print(f"stored {r.targets} predicted target(s) on {r.samples} sample(s) for model {r.model!r} "
                      f"({r.format}{', ids from ' + r.export if r.export else ''})")

    @preds.command("list")
    def list_cmd() -> None:
        """Models with stored predictions."""
        from evaluate.data import model_names

        for name in model_names(store()):
            console.print(name)

    @app.command("eval")
    def eval_cmd(
        version: Annotated[str, typer.Argument()],
        model: Annotated[str, typer.Option("--model", "-m")],
        split: Annotated[str, typer.Option(help="train, val, test or all.")] = "test",
        worst: Annotated[int, typer.Option(help="How many worst samples to list.")] = 20,
        score_threshold: Annotated[float, typer.Option(help="Score from which a box counts in the error lists.")] = 0.5,
        min_slice: Annotated[int, typer.Option(help="Smallest slice to report.")] = 5,
        as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")] = False,
    ) -> None:
        """A model against a version's split: metrics, the human bound, slices and the worst samples."""
        from evaluate.report import evaluate_version
        from storage.quality import Thresholds

        st = store()
        r = evaluate_version(st, version, model, split, score_threshold, worst, min_slice,
                             Thresholds.from_dict(st.settings.crawl.quality_thresholds))
        if as_json:
            console.print_json(json.dumps(r, default=str))
            return
        _print_report(console, r)

    @app.command("issues")
    def issues_cmd(
        version: Annotated[str, typer.Argument()],
        model: Annotated[str, typer.Option("--model", "-m", help="Model with out-of-sample predictions.")],
        top: Annotated[int, typer.Option(help="How many suspects.")] = 30,
        split: Annotated[str, typer.Option(help="train, val, test or all.")] = "all",
        review: Annotated[Optional[str], typer.Option(help="Send the suspects to this Label Studio project.")] = None,
    ) -> None:
        """Likely label errors (cleanlab): swapped classes, missing boxes, badly placed boxes."""
        from evaluate.review import push_for_review, suspects

        st = store()
        found = suspects(st, version, model, top, split)
        table = Table("sample", "quality", "issue", "suspect region", "model")
        for s in found:
            table.add_row(s.sample_key, _fmt(s.score), s.issue or "-", _box(s.region), _box(s.prediction))
        console.print(table)
        if review:
            n = push_for_review(st, review, found, model)
            console.print(f"sent {n} suspect(s) to Label Studio project {review!r} for review")

    @app.command("quality")
    def quality_cmd(
        measure: Annotated[bool, typer.Option(help="First measure stored images that have no measures.")] = False,
        flag: Annotated[Optional[str], typer.Option(help="List the images with this flag.")] = None,
        limit: Annotated[int, typer.Option(help="Rows to list.")] = 50,
    ) -> None:
        """Image quality flags (blurry, dark, bright, low_information, odd_aspect, grayscale) of stored images."""
        from scrapers.quality import measure_missing
        from storage.quality import FLAGS, Thresholds, quality_table

        st = store()
        if measure:
            console.print(f"measured {measure_missing(st)} image(s)")
        if flag is not None and flag not in FLAGS:
            raise typer.BadParameter(f"--flag {flag!r} is unknown; expected one of {', '.join(FLAGS)}.")
        thresholds = Thresholds.from_dict(st.settings.crawl.quality_thresholds)
        with st.sessions() as session:
            total, counts, flagged = quality_table(session, thresholds)
        summary = Table("flag", "images", "share", title=f"{total} measured image(s); flags are kept, never dropped")
        for f in FLAGS:
            summary.add_row(f, str(counts[f]), f"{counts[f] / total:.1%}" if total else "-")
        console.print(summary)
        rows = [r for r in flagged if flag is None or flag in r[1]][:limit]
        if rows:
            listing = Table("asset", "flags", "blur", "brightness", "entropy", "aspect", "colour")
            for asset_id, raised, m in rows:
                listing.add_row(str(asset_id), ",".join(raised), *(f"{m[k]:.1f}" for k in
                                ("blur", "brightness", "entropy", "aspect", "colourfulness")))
            console.print(listing)


def _print_report(console: Any, r: dict[str, Any]) -> None:
    primary = r["primary"]
    o = r["overall"]
    console.print(f"[bold]{r['model']}[/] on {r['version']} ({r['split']}, {r['samples']} samples, {r['kind']})"
                  + (f"; [yellow]{len(r['unpredicted'])} sample(s) without predictions count as empty[/]"
                     if r["unpredicted"] else ""))
    hb = r["human_bound"]
    head = Table("metric", "model", "human bound", "model on the same samples", "gap to bound")
    keys = ("mAP", "AP50", "AP75", "AR100", "AP_small", "AP_medium", "AP_large") if r["kind"] == "detection" else ("accuracy", "macro_f1")
    for k in keys:
        same = hb.get("model_on_same_samples") if k == primary else None
        gap = hb.get("gap") if k == primary else None
        head.add_row(k, _fmt(o.get(k)), _fmt(hb.get(k)), _fmt(same), _fmt(gap))
    console.print(head)
    console.print(f"human bound: agreement of two annotators on {hb.get('samples', 0)} doubly-labeled sample(s), "
                  "same matching as the model")
    per = Table("class", *(("AP", "AP50", "AR") if r["kind"] == "detection" else ("precision", "recall", "f1", "support")))
    for c, v in o["per_class"].items():
        per.add_row(c, *(_fmt(x) for x in v.values()))
    console.print(per)
    if r["kind"] == "classification":
        labels = o["confusion"]["labels"]
        cm = Table("truth \\ predicted", *labels, title="confusion matrix")
        for lab, row in zip(labels, o["confusion"]["matrix"]):
            cm.add_row(lab, *map(str, row))
        console.print(cm)
    sl = Table("dimension", "group", "samples", primary, "vs whole", title="slices, worst first")
    for s in r["slices"] + r.get("object_size", []):
        sl.add_row(s["dimension"], s["group"], _fmt(s.get("samples")), _fmt(s["value"]), _fmt(s["delta"]))
    console.print(sl)
    if r["kind"] == "detection":
        w = Table("sample", "false pos.", "false neg.", "confusions", "example", title="worst samples")
        for row in r["worst"]:
            e = row["errors"]
            example = (f"{e['confusions'][0]['truth']['label']} -> {e['confusions'][0]['predicted']['label']}" if e["confusions"]
                       else "missed " + _box(e["false_negatives"][0]) if e["false_negatives"] else "extra " + _box(e["false_positives"][0]))
            w.add_row(row["id"], str(row["false_positives"]), str(row["false_negatives"]), str(row["confusions"]), example)
    else:
        w = Table("sample", "truth", "predicted", title="wrong samples")
        for row in r["worst"]:
            w.add_row(row["id"], row["truth"], row["predicted"])
    console.print(w)
