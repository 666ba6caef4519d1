"""Real Scrapyd servers for tests: each in its own directory, on a free loopback port, stopped afterwards."""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from annotation.server import free_port
from tests.labelstudio import wait_for

CONF = """[scrapyd]
bind_address = 127.0.0.1
http_port = {port}
eggs_dir = {root}/eggs
logs_dir = {root}/logs
dbs_dir = {root}/dbs
items_dir =
jobs_dir =
max_proc = 2
poll_interval = 0.2
"""


@dataclass
class ScrapydServer:
    url: str
    root: Path
    process: subprocess.Popen

    def get(self, path: str, **params) -> dict:
        return httpx.get(f"{self.url}/{path}", params=params, timeout=30).json()


def scrapyd_command() -> list[str]:
    return [sys.executable, "-c", "from scrapyd.__main__ import main; main()"]


@contextlib.contextmanager
def scrapyd_server(root: Path, env: dict[str, str]) -> Iterator[ScrapydServer]:
    """One Scrapyd, configured by `root/scrapyd.conf` (it reads the file in its working directory)."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (root / "scrapyd.conf").write_text(CONF.format(port=port, root=root))
    log = open(root / "scrapyd.out", "wb")
    process = subprocess.Popen(scrapyd_command(), cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = ScrapydServer(f"http://127.0.0.1:{port}", root, process)

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"scrapyd exited with {process.returncode}:\n{(root / 'scrapyd.out').read_text()}")
        try:
            return server.get("daemonstatus.json").get("status") == "ok"
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, 60, f"scrapyd on port {port}")
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def deploy(repo: Path, targets: dict[str, str], env: dict[str, str], home: Path) -> subprocess.CompletedProcess:
    """`scrapyd-deploy -a -p harvest` from the repository, the targets in a user-level scrapy.cfg."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "scrapy.cfg").write_text("".join(f"[deploy:{name}]\nurl = {url}/\nproject = harvest\n\n"
                                             for name, url in targets.items()))
    env = {**env, "XDG_CONFIG_HOME": str(home)}
    env.pop("SCRAPY_SETTINGS_MODULE", None)
    return subprocess.run([sys.executable, "-c", "from scrapyd_client.deploy import main; main()", "-a", "-p",
                           "harvest", "--version", "r1"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=300)


__all__ = ["ScrapydServer", "deploy", "scrapyd_server"]
