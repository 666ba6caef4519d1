"""`harvest status`: counts per source and per stage, as a rich table."""
from __future__ import annotations

from rich.table import Table
from sqlalchemy import distinct, func, select

from harvest.store import Store
from storage.models import Annotation, Asset, CrawlRun, DatasetVersion, Item, ItemAsset, LabelingProject, Source, Task


def status_table(store: Store) -> Table:
    table = Table(title="harvest status")
    for col in ("source", "runs", "last run", "items", "images", "assets", "labeling tasks", "annotations"):
        table.add_column(col, justify="left" if col in ("source", "last run") else "right")
    with store.sessions() as s:
        sources = s.scalars(select(Source).order_by(Source.name)).all()
        for src in sources:
            runs = s.scalar(select(func.count()).where(CrawlRun.source_id == src.id))
            last = s.scalars(
                select(CrawlRun).where(CrawlRun.source_id == src.id).order_by(CrawlRun.id.desc()).limit(1)
            ).first()
            items = s.scalar(select(func.count()).where(Item.source_id == src.id))
            links = s.scalar(
                select(func.count(ItemAsset.id)).join(Item, Item.id == ItemAsset.item_id).where(Item.source_id == src.id)
            )
            assets = s.scalar(
                select(func.count(distinct(ItemAsset.asset_id)))
                .join(Item, Item.id == ItemAsset.item_id)
                .where(Item.source_id == src.id)
            )
            tasks = s.scalar(
                select(func.count(Task.id)).join(LabelingProject).where(LabelingProject.source_id == src.id)
            )
            anns = s.scalar(
                select(func.count(Annotation.id))
                .join(Task, Task.id == Annotation.task_id)
                .join(LabelingProject, LabelingProject.id == Task.project_id)
                .where(LabelingProject.source_id == src.id, Annotation.deleted_at.is_(None))
            )
            last_txt = f"{last.status} {last.started_at:%Y-%m-%d %H:%M}" if last else "-"
            table.add_row(src.name, str(runs), last_txt, str(items), str(links), str(assets), str(tasks), str(anns))
        totals = [
            s.scalar(select(func.count(CrawlRun.id))),
            s.scalar(select(func.count(Item.id))),
            s.scalar(select(func.count(ItemAsset.id))),
            s.scalar(select(func.count(Asset.id))),
            s.scalar(select(func.count(Task.id))),
            s.scalar(select(func.count(Annotation.id)).where(Annotation.deleted_at.is_(None))),
        ]
        versions = s.scalar(select(func.count(DatasetVersion.id)))
    table.add_section()
    table.add_row("all", str(totals[0]), "-", *[str(t) for t in totals[1:]], style="bold")
    table.caption = f"dataset versions: {versions}"
    return table
