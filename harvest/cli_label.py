"""`harvest label …` commands: server, project, push, pull, webhook, media, agreement, templates."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    from harvest.context import console, settings, store

    label = typer.Typer(help="Label Studio: server, projects, push, pull, webhook, agreement.", no_args_is_help=True)
    server_app = typer.Typer(help="The local Label Studio server (its own venv).", no_args_is_help=True)
    project_app = typer.Typer(help="Labeling projects.", no_args_is_help=True)
    label.add_typer(server_app, name="server")
    label.add_typer(project_app, name="project")
    app.add_typer(label, name="label")
    from harvest.cli_review import add_review

    add_review(label)

    def _quiet_secrets() -> None:
        from annotation.redact import install

        install()

    @server_app.command("install")
    def server_install() -> None:
        """Install label-studio==1.23.2 into its own venv (HARVEST_LS_VENV), or reuse the one there."""
        from annotation import server

        console.print(f"Label Studio CLI: {server.ensure_venv(settings().labelstudio.venv_path())}")

    @server_app.command("start")
    def server_start() -> None:
        """Install (once) and start Label Studio on 127.0.0.1, telemetry off; record URL and token."""
        from annotation import server

        _quiet_secrets()
        s = settings()
        state = server.start(s.data_dir, s.labelstudio)
        folder = server.state_dir(s.data_dir)
        console.print(f"[green]Label Studio is up[/] at {state.url} (pid {state.pid}); "
                      f"login {state.admin_email}; token and password in {folder / 'state.json'} (0600)")

    @server_app.command("stop")
    def server_stop() -> None:
        """Stop the Label Studio server started by `harvest label server start`."""
        from annotation import server

        console.print("stopped" if server.stop(settings().data_dir) else "not running")

    @server_app.command("status")
    def server_status() -> None:
        """Whether the local server runs, where, and with which data (no secrets)."""
        from annotation import server

        for key, value in server.status(settings().data_dir).items():
            console.print(f"{key}: {value}")

    @label.command("templates")
    def templates_cmd() -> None:
        """List the label-config templates."""
        from annotation.templates import all_templates

        table = Table("template", "data", "targets", "description")
        for t in all_templates():
            table.add_row(t.name, t.kind, ", ".join(t.target_types), t.description)
        console.print(table)

    @project_app.command("create")
    def project_create(
        name: str = typer.Argument(..., help="Project name (also its Label Studio title)."),
        template: str = typer.Option(..., "--template", "-t", help="See `harvest label templates`."),
        labels: str = typer.Option(..., "--labels", "-l", help="Comma-separated labels: a,b,c"),
        source: Optional[str] = typer.Option(None, "--source", "-s", help="Only samples of this source."),
    ) -> None:
        """Create a Label Studio project from a template and record it."""
        from annotation import create_project

        _quiet_secrets()
        project = create_project(store(), name, template, labels.split(","), source)
        console.print(f"project {project.name!r}: Label Studio project {project.ls_project_id} at {project.ls_url}")

    @label.command("push")
    def push_cmd(
        project: str = typer.Argument(...),
        limit: Optional[int] = typer.Option(None, help="At most this many new samples (with --order uncertainty: "
                                            "the least certain ones)."),
        predictions: Optional[Path] = typer.Option(None, help="JSON {sample key: [targets]} pre-annotations."),
        order: Optional[str] = typer.Option(None, help="uncertainty: least certain first (needs --model)."),
        model: Optional[str] = typer.Option(None, help="Model whose stored predictions pre-annotate (harvest predictions import)."),
    ) -> None:
        """Send samples not yet in Label Studio, in bulk, idempotently."""
        from annotation import push
        from annotation.errors import LabelError

        _quiet_secrets()
        if order not in (None, "uncertainty") or (order and not model):
            raise LabelError(f"--order {order!r}: the only order is `uncertainty`, with --model NAME.")
        if model is not None:
            from annotation.connect import client_for
            from annotation.projects import load_project
            from evaluate.active import uncertainty_predictions, use_uncertainty_sampling

            from evaluate.active import least_certain_first

            st = store()
            preds = uncertainty_predictions(st, model)
            order_keys = least_certain_first(preds) if order == "uncertainty" else None
            report = push(st, project, preds, limit, order=order_keys)
            if order == "uncertainty":
                client = client_for(st.settings)
                try:
                    use_uncertainty_sampling(client, load_project(st, project).ls_project_id)
                finally:
                    client.close()
            console.print(f"pushed {report.imported} task(s) with {report.predictions} prediction(s) of {model!r}"
                          + ("; Label Studio shows the least certain first" if order else ""))
            return
        preds = None
        if predictions is not None:
            try:
                preds = json.loads(predictions.read_text())
            except (OSError, ValueError) as exc:
                raise LabelError(f"cannot read predictions from {predictions}: {exc}; expected a JSON object "
                                 '{"asset:1": [{"type": "bbox", ...}]}.') from None
        from harvest.progress import progress_bar

        st = store()
        with progress_bar(f"push {project}") as bar:
            report = push(st, project, preds, limit, progress=lambda done, total: bar.update(done, total))
        console.print(f"pushed {report.imported} task(s) in {report.batches} batch(es), "
                      f"{report.predictions} prediction(s); adopted {report.adopted} already in Label Studio")
        for problem in report.problems:
            console.print(f"[yellow]note[/] {problem}", highlight=False)

    @label.command("pull")
    def pull_cmd(project: str = typer.Argument(...),
                 full: bool = typer.Option(False, help="Re-read every task, not only changed ones.")) -> None:
        """Store annotation revisions changed in Label Studio since the last pull."""
        from annotation import pull

        _quiet_secrets()
        from harvest.progress import progress_bar

        st = store()
        with progress_bar(f"pull {project}") as bar:
            report = pull(st, project, full=full, progress=lambda done, total: bar.update(done, total))
        console.print(f"{report.tasks} changed task(s): {report.revisions} new revision(s), "
                      f"{report.deleted} deleted, {report.unchanged} unchanged")
        if report.label_map is not None:
            console.print(f"label map applied ({len(report.label_map)} rename(s)); "
                          f"{report.relabeled} stored revision(s) converted again under it", highlight=False)
        for problem in report.invalid:
            console.print(f"[yellow]invalid[/] {problem}", highlight=False)
        if report.invalid:
            console.print(f"{len(report.invalid)} region(s) contradict the label config: left out, stored raw with the "
                          "reason; the other regions are kept (their samples wait for review).")
        if report.deleted_tasks:
            console.print(f"{len(report.deleted_tasks)} task(s) deleted in Label Studio, marked (kept in harvest, left "
                          f"out of new versions): {', '.join(report.deleted_tasks[:10])}", highlight=False)
        if report.unknown_tasks:
            console.print(f"[yellow]{len(report.unknown_tasks)} Label Studio task(s) not pushed by harvest were skipped[/]"
                          f" (ids {report.unknown_tasks[:10]}{' …' if len(report.unknown_tasks) > 10 else ''})")

    @label.command("map")
    def map_cmd(
        project: str = typer.Argument(..., help="Labeling project."),
        pairs: Optional[list[str]] = typer.Argument(None, help="OLD=NEW renames, e.g. 'Butterfly=butterfly'."),
        replace: bool = typer.Option(False, "--replace", help="Set the map to exactly these pairs."),
        clear: bool = typer.Option(False, "--clear", help="Remove every rename."),
    ) -> None:
        """Show or set the project's label map: labels renamed on read (the next pull applies it)."""
        from annotation.errors import LabelError
        from annotation.projects import load_project, parse_label_map, set_label_map

        st = store()
        if clear and pairs:
            raise LabelError("--clear takes no OLD=NEW pairs; run it alone, then add the pairs you want.")
        if pairs or clear:
            current = set_label_map(st, project, parse_label_map(pairs or []), replace=replace or clear)
        else:
            current = dict((load_project(st, project).options or {}).get("label_map") or {})
        for old, new in sorted(current.items()):
            console.print(f"{old} -> {new}", markup=False, highlight=False)
        console.print(f"{len(current)} rename(s) in the label map of {project!r}"
                      + ("; `harvest label pull` applies it to stored annotations too" if pairs or clear else ""),
                      markup=False, highlight=False)

    @label.command("webhook")
    def webhook_cmd(
        project: Optional[list[str]] = typer.Option(None, "--project", "-p", help="Default: every project."),
        host: Optional[str] = typer.Option(None, help="Listen address (default [labelstudio] webhook_host)."),
        port: Optional[int] = typer.Option(None, help="Listen port (default [labelstudio] webhook_port)."),
    ) -> None:
        """Register the webhook with Label Studio and serve it (Ctrl-C to stop)."""
        from sqlalchemy import select

        from annotation.connect import client_for
        from annotation.projects import load_project
        from annotation.sync_pull import user_emails
        from annotation.webhook import create_app, register as register_hook, serve, webhook_secret
        from storage.engine import session_scope
        from storage.label_models import LabelingProject

        _quiet_secrets()
        st = store()
        cfg = st.settings.labelstudio
        host, port = host or cfg.webhook_host, port or cfg.webhook_port
        secret = webhook_secret(st.settings)
        with session_scope(st.sessions) as session:
            names = project or list(session.scalars(select(LabelingProject.name)))
        client = client_for(st.settings)
        for name in names:
            register_hook(client, st, load_project(st, name), f"http://{host}:{port}/hook", secret)
        app_ = create_app(st, secret, users=user_emails(client), refresh_users=lambda: user_emails(client),
                          max_bytes=cfg.webhook_max_bytes, window=cfg.webhook_window_seconds,
                          signed_only=cfg.webhook_signed_only)
        console.print(f"webhook for {len(names)} project(s) on http://{host}:{port}/hook")
        serve(app_, host, port).run()

    @label.command("media")
    def media_cmd(
        host: Optional[str] = typer.Option(None, help="Listen address (default \\[labelstudio] media_host; "
                                                      "0.0.0.0 to serve other machines)."),
        port: Optional[int] = typer.Option(None, help="Listen port (default \\[labelstudio] media_port)."),
    ) -> None:
        """Serve images to a Label Studio on another machine by signed URLs (Ctrl-C to stop)."""
        from annotation.media import media_secret
        from annotation.media_server import create_app
        from annotation.webhook import serve

        _quiet_secrets()
        st = store()
        cfg = st.settings.labelstudio
        host, port = host or cfg.media_host, port or cfg.media_port
        if not cfg.media_url:
            console.print("[yellow]note[/] \\[labelstudio] media_url is not set, so `harvest label push` still "
                          "uses local files; set it to the URL of this endpoint as the annotators' browsers see it.")
        else:
            console.print(f"pushed image tasks point at {cfg.media_url}/media/")
        console.print(f"serving signed media URLs on http://{host}:{port}/media/ (Ctrl-C to stop)")
        serve(create_app(st, media_secret(st.settings)), host, port).run()

    @label.command("agreement")
    def agreement_cmd(project: str = typer.Argument(...),
                      iou: float = typer.Option(0.5, help="IoU threshold for matching shapes.")) -> None:
        """Inter-annotator agreement, and the tasks to review."""
        from annotation import project_agreement

        table = project_agreement(store(), project, iou)
        fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
        out = Table("measure", "value", title=f"agreement: {project} ({table.tasks} task(s) with 2+ annotators)")
        if table.kappa_kind:
            out.add_row(f"{table.kappa_kind} kappa (choices)", fmt(table.kappa))
        for name, value in table.per_label.items():
            out.add_row(f"  kappa {name}", fmt(value))
        for kind, value in table.f1.items():
            out.add_row(f"{kind} F1 @ IoU {iou}", fmt(value))
        console.print(out)
        for task, problems in sorted(table.review.items()):
            console.print(f"review {task}: " + "; ".join(problems), highlight=False)
