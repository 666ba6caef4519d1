"""The CLI through its real entry point (`harvest`, a subprocess): usage errors are typer's short
message and exit 2; every command before `harvest init` says to run it and creates no database; a crawl
whose run did not succeed exits 1 with a one-line reason; Scrapy's log is in the run's directory."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harvest.demo.site import DemoSite, serve
from tests.scrapers.helpers import harvest, harvest_env, runs, write_toml

HARVEST = shutil.which("harvest", path=str(Path(sys.executable).parent))


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_") or k.startswith("HARVEST_TEST")}
    env["COLUMNS"] = "300"
    return subprocess.run([HARVEST, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("args", "expect"), [
    (["status", "--bogus"], "No such option: --bogus"),
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
    (["crawl"], "Missing argument"),
    (["dataset", "export"], "Missing argument"),
    (["runs", "--limit", "many"], "Input should be a valid integer"),
])
def test_usage_errors_are_short_and_exit_2(tmp_path, args, expect):
    r = cli(tmp_path, *args)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr and "site-packages" not in r.stderr
    assert expect.replace("'", "") in " ".join(r.stderr.replace("'", "").split())
    assert len(r.stderr.splitlines()) <= 8
    assert r.stderr.startswith("Usage: harvest")


@pytest.mark.parametrize("args", [["status"], ["runs"], ["dataset", "list"], ["label", "push", "p"],
                                  ["crawl", "demo"], ["dataset", "show", "v1"]])
def test_commands_before_init_say_to_run_it(tmp_path, args):
    r = cli(tmp_path, *args)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert "harvest init" in r.stderr and r.stderr.startswith("error:")
    assert not (tmp_path / "harvest-data" / "harvest.db").exists()  # nothing half set up


@pytest.fixture(scope="module")
def demo():
    with serve(DemoSite(0), port=0) as srv:
        yield srv


def test_failed_crawl_exits_1_with_reason_and_log_in_run_dir(sqlite_settings, demo, tmp_path):
    config = write_toml(tmp_path / "harvest.toml", {
        "crawl": {"demo_url": demo.base_url + "/", "contact_url": "https://example.org/contact"},
        "sources.closer": {"spider": "tests.security.closing_spider:ClosingSpider",
                           "start_urls": [demo.base_url + "/"], "licence": "CC0-1.0"},
    })
    env = harvest_env(sqlite_settings, config)
    r = harvest(["crawl", "closer"], env, tmp_path)
    (run,) = runs(sqlite_settings.database_url)
    assert run.status == "failed"
    assert r.returncode == 1, r.stderr[-2000:]
    last = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(last) == 1 and f"crawl run {run.id} of closer failed" in last[0]
    log = sqlite_settings.data_dir / "runs" / str(run.id) / "scrapy.log"
    assert "the test closed it" in log.read_text()
    assert "Scrapy" not in r.stderr.replace("scrapy.log", "")  # Scrapy's own log is not on the terminal
    assert oct(log.stat().st_mode & 0o777) == "0o600" and oct(log.parent.stat().st_mode & 0o777) == "0o700"

    shown = harvest(["crawl", "closer", "-v"], env, tmp_path)
    assert shown.returncode == 1
    assert "the test closed it" in shown.stderr and "[scrapy.core.engine] INFO" in shown.stderr


def test_succeeded_crawl_exits_0_and_shows_progress(sqlite_settings, demo, tmp_path):
    config = write_toml(tmp_path / "harvest.toml", {
        "crawl": {"demo_url": demo.base_url + "/", "contact_url": "https://example.org/contact"},
        "sources.pyshop": {"spider": "tests.scrapers.example_spider:ExampleSpider",
                           "start_urls": [demo.base_url + "/listings/page-2.html"], "licence": "CC0-1.0"},
    })
    r = harvest(["crawl", "pyshop"], harvest_env(sqlite_settings, config), tmp_path)
    (run,) = runs(sqlite_settings.database_url)
    assert r.returncode == 0 and run.status == "succeeded"
    final = r.stderr.strip().splitlines()[-1]  # the bar's last state
    assert f"items {run.stats['items']}" in final and f"images {run.stats['images_stored']}" in final
