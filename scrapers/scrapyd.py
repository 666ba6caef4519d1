"""Handing crawls to Scrapyd: `harvest schedule --scrapyd URL[,URL]` (Scrapyd has no recurring schedules;
harvest's cron supplies them).

`ScrapydLauncher(name)` schedules the source's spider on the least busy server (daemonstatus.json) through
schedule.json and returns a `ScrapydJob`, which answers like a `subprocess.Popen` (poll, wait,
send_signal, kill), so the scheduler treats a Scrapyd job like a local crawl process. The crawl itself
records its run in the store as any `scrapy crawl` of the project does (trigger `schedule`), under the
same one-run-per-source lock. Each Scrapyd machine needs the project deployed (`scrapyd-deploy`) and
harvest's settings in its environment (HARVEST_CONFIG or HARVEST_DATABASE_URL / HARVEST_DATA_DIR ...).
"""
from __future__ import annotations

import subprocess
import time

import httpx

from scrapers.errors import CollectError

PROJECT = "harvest"


class ScrapydError(CollectError):
    pass


def _answer(response: httpx.Response, what: str) -> dict:
    try:
        data = response.json()
    except ValueError:
        data = {"status": "error", "message": response.text[:200]}
    if response.status_code != 200 or data.get("status") != "ok":
        raise ScrapydError(f"Scrapyd at {response.request.url.copy_with(path='/', query=None)} refused to {what}: "
                           f"{data.get('message') or response.status_code}. Check that the project is deployed "
                           f"there (`scrapyd-deploy`) and the server is up.")
    return data


class ScrapydJob:
    """A crawl running in Scrapyd, with the part of the `subprocess.Popen` interface the scheduler uses."""

    def __init__(self, client: httpx.Client, url: str, project: str, job: str, spider: str) -> None:
        self.client, self.url, self.project, self.job, self.spider = client, url.rstrip("/"), project, job, spider
        self.returncode: int | None = None

    def __repr__(self) -> str:
        return f"<Scrapyd job {self.job} of {self.spider} at {self.url}>"

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                response = self.client.get(f"{self.url}/status.json", params={"job": self.job, "project": self.project})
                state = _answer(response, "report a job").get("currstate")
            except (httpx.HTTPError, ScrapydError):
                return None  # the server is unreachable for now: still running as far as we know
            if state == "finished":
                self.returncode = 0
            elif state is None:  # unknown to the server (restarted): the run's own row tells what happened
                self.returncode = 1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(repr(self), timeout)
            time.sleep(0.5)
        return self.returncode

    def send_signal(self, sig: int | None = None) -> None:
        """Ask Scrapyd to stop the job (it sends the crawl SIGINT: Scrapy finishes what is in flight)."""
        data = {"project": self.project, "job": self.job}
        try:
            self.client.post(f"{self.url}/cancel.json", data=data)
        except httpx.HTTPError:
            pass

    def kill(self) -> None:
        try:
            self.client.post(f"{self.url}/cancel.json", data={"project": self.project, "job": self.job,
                                                              "signal": "KILL"})
        except httpx.HTTPError:
            pass


class ScrapydLauncher:
    """Starts crawls on a pool of Scrapyd servers, each on the one with the fewest pending and running jobs."""

    def __init__(self, urls: list[str], project: str = PROJECT, client: httpx.Client | None = None) -> None:
        if not urls:
            raise ScrapydError("no Scrapyd server given; pass --scrapyd http://HOST:6800[,http://HOST2:6800]")
        self.urls = [u.rstrip("/") for u in urls]
        self.project = project
        self.client = client or httpx.Client(timeout=30)

    def _load(self, url: str) -> float:
        try:
            data = _answer(self.client.get(f"{url}/daemonstatus.json"), "report its status")
        except (httpx.HTTPError, ScrapydError):
            return float("inf")
        return data.get("pending", 0) + data.get("running", 0)

    def __call__(self, name: str) -> ScrapydJob:
        loads = {url: self._load(url) for url in self.urls}
        url = min(self.urls, key=lambda u: loads[u])
        if loads[url] == float("inf"):
            raise ScrapydError(f"no Scrapyd server answers ({', '.join(self.urls)}); start scrapyd there")
        data = {"project": self.project, "spider": name, "setting": "HARVEST_TRIGGER=schedule"}
        job = _answer(self.client.post(f"{url}/schedule.json", data=data), f"schedule {name}")["jobid"]
        return ScrapydJob(self.client, url, self.project, job, name)
