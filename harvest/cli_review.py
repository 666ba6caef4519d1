"""`harvest label review PROJECT`: send samples held out as needs review to a reviewer in Label Studio."""
from __future__ import annotations

import typer

from harvest.context import console, store


def add_review(label: typer.Typer) -> None:
    """Add `review` to the `harvest label` group."""

    @label.command("review")
    def review_cmd(
        project: str = typer.Argument(..., help="Labeling project."),
        rule: str = typer.Option("consensus", "--rule", help="Revision rule whose held-out samples to review: "
                                 "latest or consensus."),
        dry_run: bool = typer.Option(False, "--dry-run", help="List the samples and reasons; send nothing."),
    ) -> None:
        """Show each disputed sample's annotations to a reviewer as predictions on its Label Studio task.

        The reviewer starts from one of them (or from scratch), submits, and marks the annotation as ground
        truth; after `harvest label pull`, it decides the sample in later versions under every rule.
        """
        from annotation.review_queue import send_for_review
        from export.review import needs_review

        st = store()
        held = needs_review(st, project, rule)
        for key, entry in sorted(held.items())[:20]:
            console.print(f"{key}: " + "; ".join(entry["reasons"]), markup=False, highlight=False)
        if len(held) > 20:
            console.print(f"... and {len(held) - 20} more", highlight=False)
        if dry_run or not held:
            console.print(f"{len(held)} samples need review under rule {rule}" + (" (dry run)" if dry_run else ""))
            return
        report = send_for_review(st, project, {k: v["predictions"] for k, v in held.items()},
                                 reason=f"annotators disagree under rule {rule}")
        for problem in report.problems:
            console.print(f"[yellow]not sent[/] {problem}", highlight=False)
        ids = ",".join(map(str, report.task_ids[:50]))
        console.print(f"[green]review[/] {report.tasks} tasks in Label Studio ({report.predictions} predictions sent, "
                      f"{report.already} already there); task ids {ids}{'...' if len(report.task_ids) > 50 else ''}. "
                      "Open them, submit the corrected annotation, mark it as ground truth, then "
                      f"`harvest label pull {project}`.", highlight=False)
