"""`harvest` commands of the demo stage."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    demo_app = typer.Typer(invoke_without_command=True, help="The bundled demo: a local site to crawl, label and export.")
    app.add_typer(demo_app, name="demo")

    # --- placeholder: the lead replaces this callback with the full demo ---------------------------------
    @demo_app.callback()
    def demo_main(ctx: typer.Context) -> None:
        """Run the full demo (crawl the demo site, label, export) — not wired yet."""
        if ctx.invoked_subcommand is None:
            typer.echo("the full demo is not wired yet")
    # --- end of placeholder ---------------------------------------------------------------------------

    @demo_app.command("site")
    def site(
        port: int = typer.Option(8765, "--port", help="Port to listen on (0 picks a free one)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
        seed: int = typer.Option(0, "--seed", help="Generator seed; the same seed serves byte-identical pages."),
    ) -> None:
        """Serve the demo classifieds site until Ctrl-C."""
        from scrapers.demo_site import DemoSite, run_forever

        def ready(url: str) -> None:
            typer.echo(f"demo site at {url}/ (robots.txt at {url}/robots.txt) — Ctrl-C to stop")

        run_forever(host, port, DemoSite(seed), ready=ready)
