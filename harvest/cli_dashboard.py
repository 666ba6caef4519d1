"""`harvest dashboard`: serve the read-only web dashboard over the store the CLI uses."""
from __future__ import annotations

from typing import Optional

import typer

TOKEN_ENV = "HARVEST_DASHBOARD_TOKEN"
MIN_TOKEN = 16


def check_binding(host: str, token: str | None) -> None:
    """A host other than loopback needs a token (refuse otherwise: the store would be open to the network)."""
    from dashboard.security import is_loopback
    from harvest.errors import ConfigError

    if token is not None and len(token) < MIN_TOKEN:
        raise ConfigError(f"the dashboard token must be at least {MIN_TOKEN} characters; found {len(token)}. "
                          "Make one with: python -c 'import secrets; print(secrets.token_urlsafe(24))'")
    if not is_loopback(host) and not token:
        raise ConfigError(f"--host {host} exposes the dashboard beyond this machine, so a token is required; found none. "
                          f"Pass --token T (or set {TOKEN_ENV}); make one with: "
                          "python -c 'import secrets; print(secrets.token_urlsafe(24))'")


def register(app: typer.Typer) -> None:
    from harvest.context import console, store

    @app.command("dashboard")
    def dashboard_cmd(
        port: int = typer.Option(8765, "--port", "-p", min=0, max=65535, help="Port to listen on (0: any free port)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; anything but loopback needs --token."),
        token: Optional[str] = typer.Option(None, "--token", envvar=TOKEN_ENV, show_envvar=True,
                                            help="Required with a non-loopback --host; sent as ?token=, a cookie "
                                                 "or 'Authorization: Bearer'."),
    ) -> None:
        """Serve the read-only dashboard: overview, crawl runs, samples, labeling, versions and diffs."""
        import socket

        import uvicorn

        from dashboard.app import create_app

        check_binding(host, token)
        st = store()
        sock = socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET)
        bound = sock.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{bound}/"
        console.print(f"harvest dashboard at [bold]{url}[/]" + (" (open it with ?token=<your token>)" if token else ""))
        console.print("read-only; Ctrl+C stops it", style="dim")
        config = uvicorn.Config(create_app(st, token=token), log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        try:
            server.run(sockets=[sock])
        finally:
            st.close()
