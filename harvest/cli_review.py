"""`harvest label review PROJECT`: send samples to a reviewer in Label Studio — those held out as needs
review (annotators disagree), or with `--from-issues MODEL` a model's top label-issue suspects."""
from __future__ import annotations

from typing import Optional

import typer

from harvest.context import console, store


def add_review(label: typer.Typer) -> None:
    """Add `review` to the `harvest label` group."""

    @label.command("review")
    def review_cmd(
        project: str = typer.Argument(..., help="Labeling project."),
        rule: str = typer.Option("consensus", "--rule", help="Revision rule whose held-out samples to review: "
                                 "latest or consensus."),
        from_issues: Optional[str] = typer.Option(None, "--from-issues", metavar="MODEL",
                                                  help="Review this model's label-issue suspects (cleanlab) instead."),
        version: Optional[str] = typer.Option(None, "--version", help="With --from-issues: the dataset version "
                                              "(default: the one the model's predictions were imported for)."),
        top: int = typer.Option(30, "--top", min=1, help="With --from-issues: how many suspects."),
        split: str = typer.Option("all", "--split", help="With --from-issues: train, val, test or all."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List the samples and reasons; send nothing."),
    ) -> None:
        """Show each sample's regions to judge to a reviewer, as predictions on its Label Studio task.

        Disputed samples show every annotator's regions; suspects (--from-issues) show the suspect region
        (`issue:MODEL`) and the model's prediction (`MODEL`). The reviewer starts from one of them (or from
        scratch), submits, and marks the annotation as ground truth; after `harvest label pull`, it decides
        the sample in later versions under every rule.
        """
        from annotation.review_queue import send_for_review

        st = store()
        if from_issues is not None:
            from evaluate.review import default_version, review_groups, suspects

            version = version or default_version(st, from_issues)
            found = suspects(st, version, from_issues, top, split)
            held = {s.sample_key: {"reasons": [f"label issue {s.issue or '?'} (quality {s.score:.3f})"]}
                    for s in found}
            groups = review_groups(found, from_issues)
            reason = f"label issues of {from_issues} on {version}"
        else:
            from export.review import needs_review

            held = needs_review(st, project, rule)
            groups = {k: v["predictions"] for k, v in held.items()}
            reason = f"annotators disagree under rule {rule}"
        listed = list(held.items()) if from_issues is not None else sorted(held.items())  # suspects: worst first
        for key, entry in listed[:20]:
            console.print(f"{key}: " + "; ".join(entry["reasons"]), markup=False, highlight=False)
        if len(held) > 20:
            console.print(f"... and {len(held) - 20} more", highlight=False)
        what = f"suspects of {from_issues}" if from_issues else f"samples need review under rule {rule}"
        if dry_run or not held:
            console.print(f"{len(held)} {what}" + (" (dry run)" if dry_run else ""), highlight=False)
            return
        report = send_for_review(st, project, groups, reason=reason)
        for problem in report.problems:
            console.print(f"[yellow]not sent[/] {problem}", highlight=False)
        ids = ",".join(map(str, report.task_ids[:50]))
        console.print(f"[green]review[/] {report.tasks} tasks in Label Studio ({report.predictions} predictions sent, "
                      f"{report.already} already there); task ids {ids}{'...' if len(report.task_ids) > 50 else ''}. "
                      "Open them, submit the corrected annotation, mark it as ground truth, then "
                      f"`harvest label pull {project}`.", highlight=False)
