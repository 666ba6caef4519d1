"""Ingest CPU work (decode, hash, write the blob) in worker processes, off the reactor thread and its GIL.

The pool forks when the media pipeline is built, before the crawl opens sockets or database connections;
workers ignore SIGINT so Scrapy's graceful Ctrl-C still finishes the images in flight, and die with the
crawl: on Linux each asks the kernel for SIGKILL when its parent dies (prctl PR_SET_PDEATHSIG), so a crawl
killed with SIGKILL leaves no orphan; elsewhere a worker that finds itself re-parented exits at its next task.
`HARVEST_IMAGE_WORKERS = 0` uses the reactor's thread pool instead.

Each worker has one duplex `multiprocessing` pipe; the reactor's asyncio loop sends a task to the least
busy worker (a second small task is queued behind a running one, so no worker idles waiting for the loop)
and reads the answers when the pipe becomes readable (`loop.add_reader`). ProcessPoolExecutor did the same
through a manager thread, a feeder thread and their locks: ~0.35 ms of the crawl's CPU per task against
~0.12 ms here (54 kB bodies), about a sixth of what Scrapy spends downloading an image. A worker that dies
fails the tasks it held (`WorkerDied`); the others go on. Without an asyncio loop a thread waits on the pipe.
Before forking, the heap built so far is frozen (`gc.freeze`): neither the crawl's collector nor the
workers' walk (and copy-on-write) those long-lived objects again; it is unfrozen when the pool closes.
"""
from __future__ import annotations

import asyncio
import collections
import ctypes
import gc
import multiprocessing
import os
import pickle
import queue
import signal
import sys
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any, Callable

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from scrapers.blobs import CrawlBlobStore, CrawlS3BlobStore, crawl_blobs
from scrapers.imaging import ImageFacts, Limits, inspect_image

_STORES: dict[str, CrawlBlobStore | CrawlS3BlobStore] = {}
# a worker busy with one task is handed a second one (so it never waits for the reactor between tasks)
# when the body is this small: the pipe's buffer takes it without blocking the reactor
QUEUED_TASKS = 2
QUEUED_BYTES = 128 * 1024


PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Worker initializer: ignore Ctrl-C (the crawl handles it) and never outlive the crawl process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)  # the process's own libc (find_library would run ldconfig)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the crawl died before the request above took effect
        os._exit(1)


def _ready() -> bool:
    return True


def ingest(body: bytes, limits: Limits, blob_root: str, quality: bool = False,
           parent: int | None = None) -> ImageFacts:
    """Validate, normalise and store one image (and measure its quality when asked); the returned
    facts omit bytes the caller already has."""
    if parent is not None and os.getppid() != parent:
        os._exit(1)  # orphaned (no parent-death signal on this platform): stop, the crawl is gone
    facts = inspect_image(body, limits, quality=quality)
    store = _STORES.get(blob_root) or _STORES.setdefault(blob_root, crawl_blobs(blob_root))
    store.put_hashed(facts.data, facts.sha256)
    return facts if facts.rewritten else replace(facts, data=b"")


class WorkerDied(RuntimeError):
    """An image worker process ended while it held a task (killed, out of memory)."""


def _serve(conn: Connection, parent: int, siblings: list[int]) -> None:
    """A worker's loop: run each (function, args) received, answer (True, result) or (False, exception);
    None (or the pipe's end) stops it. `siblings`: the crawl's ends of the workers forked before, closed here."""
    for fd in siblings:
        os.close(fd)
    _die_with_parent(parent)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):  # the crawl died
            return
        if task is None:
            return
        fn, args = task
        try:
            answer = (True, fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed to the caller, who decides
            answer = (False, exc)
        try:
            try:
                conn.send(answer)
            except (pickle.PicklingError, TypeError, AttributeError) as exc:  # an answer that cannot be sent
                conn.send((False, RuntimeError(f"an image worker's answer could not be sent back: {exc!r}")))
        except (BrokenPipeError, OSError):
            return


def _in_asyncio_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _Worker:
    """The crawl's end of one worker: its pipe and the answers it owes, in order."""

    def __init__(self, conn: Connection, proc) -> None:
        self.conn = conn
        self.proc = proc
        self.owed: collections.deque[asyncio.Future] = collections.deque()


class IngestPool:
    def __init__(self, workers: int) -> None:
        self.parent = os.getpid()
        self.workers: list[_Worker] = []
        self.procs: list[Any] = []
        self.frozen = False
        self.waiting: collections.deque[asyncio.Future] = collections.deque()
        self.free: queue.Queue[_Worker] = queue.Queue()
        if workers <= 0:
            return
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        gc.freeze()
        self.frozen = True
        for _ in range(workers):
            ours, theirs = context.Pipe(duplex=True)
            siblings = [w.conn.fileno() for w in self.workers]
            proc = context.Process(target=_serve, args=(theirs, self.parent, siblings), daemon=True,
                                   name="harvest-ingest")
            proc.start()
            theirs.close()
            self.workers.append(_Worker(ours, proc))
            self.free.put(self.workers[-1])
            self.procs.append(proc)

    async def run(self, body: bytes, limits: Limits, blob_root: str, quality: bool = False) -> ImageFacts:
        args = (body, limits, blob_root, quality, self.parent)
        if not self.procs:
            facts = await maybe_deferred_to_future(deferToThread(ingest, body, limits, blob_root, quality))
        elif _in_asyncio_loop():
            facts = await self._submit(ingest, args, len(body) <= QUEUED_BYTES)
        else:  # a reactor without asyncio: a thread waits on the pipe
            facts = await maybe_deferred_to_future(deferToThread(self._call, ingest, args))
        return facts if facts.data else replace(facts, data=body)

    def _call(self, fn: Callable[..., Any], args: tuple) -> Any:
        """Run `fn(*args)` in an idle worker, waiting in this (non-reactor) thread."""
        worker = self.free.get()
        try:
            worker.conn.send((fn, args))
            ok, value = worker.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerDied(f"an image worker process ended during a task ({type(exc).__name__})") from None
        self.free.put(worker)
        if not ok:
            raise value
        return value

    def _pick(self, queued: bool) -> _Worker | None:
        """An idle worker, or (for a small task) one with a single task in hand; None if none."""
        if not self.workers:
            raise WorkerDied("every image worker process has ended; no image can be ingested")
        worker = min(self.workers, key=lambda w: len(w.owed))
        return worker if not worker.owed or (queued and len(worker.owed) < QUEUED_TASKS) else None

    async def _submit(self, fn: Callable[..., Any], args: tuple, queued: bool) -> Any:
        loop = asyncio.get_running_loop()
        worker = self._pick(queued)
        while worker is None:  # every worker busy: wait until one answers
            waiter = loop.create_future()
            self.waiting.append(waiter)
            await waiter
            worker = self._pick(queued)
        answer = loop.create_future()
        try:
            worker.conn.send((fn, args))
        except (BrokenPipeError, OSError):
            self._lost(worker)
            raise WorkerDied("an image worker process has ended") from None
        worker.owed.append(answer)
        if len(worker.owed) == 1:
            loop.add_reader(worker.conn.fileno(), self._readable, loop, worker)
        ok, value = await answer
        if not ok:
            raise value
        return value

    def _readable(self, loop: asyncio.AbstractEventLoop, worker: _Worker) -> None:
        """One answer of `worker` arrived (a cancelled caller's answer is read and dropped)."""
        try:
            result = worker.conn.recv()
        except (EOFError, OSError):
            self._lost(worker)
            return
        answer = worker.owed.popleft()
        if not worker.owed:
            loop.remove_reader(worker.conn.fileno())
        if not answer.done():
            answer.set_result(result)
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _lost(self, worker: _Worker) -> None:
        """A worker's pipe broke: it died; what it owed fails, and so does everything once none is left."""
        self._unwatch(worker)
        if worker in self.workers:
            self.workers.remove(worker)
        worker.conn.close()
        for answer in worker.owed:
            if not answer.done():
                answer.set_exception(WorkerDied(f"image worker {worker.proc.pid} ended during a task "
                                                f"(exit code {worker.proc.exitcode})"))
        worker.owed.clear()
        for waiter in self.waiting:  # they pick again: another worker, or the error that none is left
            if not waiter.done():
                waiter.set_result(None)
        self.waiting.clear()

    @staticmethod
    def _unwatch(worker: _Worker) -> None:
        try:
            asyncio.get_running_loop().remove_reader(worker.conn.fileno())
        except (RuntimeError, ValueError, OSError):  # no loop (threaded path), or the pipe is closed already
            pass

    def close(self) -> None:
        """End the workers (a task in flight is abandoned) and unfreeze the heap."""
        for worker in self.workers:
            if worker.owed:
                self._unwatch(worker)
            try:
                worker.conn.send(None)
            except OSError:
                pass
            worker.conn.close()
        self.workers = []
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
        self.procs = []
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
