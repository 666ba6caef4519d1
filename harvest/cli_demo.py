"""`harvest` commands of the demo stage."""
from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    demo_app = typer.Typer(invoke_without_command=True, help="The bundled demo: a local site to crawl, label and export.")
    app.add_typer(demo_app, name="demo")

    @demo_app.callback()
    def demo_main(
        ctx: typer.Context,
        disagreement: float = typer.Option(0.15, "--disagreement", min=0.0, max=1.0,
                                           help="Share of boxes the second simulated annotator changes."),
    ) -> None:
        """Run the whole chain on the bundled demo: crawl, label in Label Studio, version, export."""
        if ctx.invoked_subcommand is not None:
            return
        from harvest.context import State, console, settings
        from harvest.demo.run import run_demo

        run_demo(settings(), State.config, console, disagreement)

    @demo_app.command("site")
    def site(
        port: int = typer.Option(8765, "--port", help="Port to listen on (0 picks a free one)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
        seed: int = typer.Option(0, "--seed", help="Generator seed; the same seed serves byte-identical pages."),
    ) -> None:
        """Serve the demo classifieds site until Ctrl-C."""
        from harvest.demo.site import DemoSite, run_forever

        def ready(url: str) -> None:
            typer.echo(f"demo site at {url}/ (robots.txt at {url}/robots.txt) — Ctrl-C to stop")

        run_forever(host, port, DemoSite(seed), ready=ready)
