"""The image worker pool: answers match the in-process ingest, rejections and dead workers reach the caller,
and closing leaves no process and no frozen heap behind."""
from __future__ import annotations

import asyncio
import gc
import hashlib
import io
import os
import signal
import time

import pytest

from bench.site import photo
from scrapers import workers
from scrapers.errors import ImageRejected
from scrapers.imaging import Limits, inspect_image


def jpeg(seed: int, size: tuple[int, int] = (320, 240)) -> bytes:
    out = io.BytesIO()
    photo(*size, seed=seed).save(out, "JPEG", quality=90)
    return out.getvalue()


def nap(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@pytest.fixture
def asyncio_pool():
    pool = workers.IngestPool(2)
    yield pool
    pool.close()


def test_answers_match_ingest_in_process(asyncio_pool, tmp_path):
    bodies = [jpeg(seed) for seed in range(8)]  # more tasks than workers: some are queued, some wait

    async def crawl():
        return await asyncio.gather(*(asyncio_pool.run(body, Limits(), str(tmp_path)) for body in bodies))

    facts = asyncio.run(crawl())
    for body, got in zip(bodies, facts):
        want = inspect_image(body)
        assert got.sha256 == hashlib.sha256(body).hexdigest() == want.sha256
        assert (got.width, got.height, got.phash) == (want.width, want.height, want.phash)
        assert got.data == body  # the pool hands back the body it did not need to send back
        assert (tmp_path / got.sha256[:2] / got.sha256[2:4] / got.sha256).read_bytes() == body


def test_rejection_reaches_the_caller(asyncio_pool, tmp_path):
    async def one():
        return await asyncio_pool.run(b"<html>not an image</html>", Limits(), str(tmp_path))

    with pytest.raises(ImageRejected) as info:
        asyncio.run(one())
    assert info.value.reason == "not_an_image"
    assert asyncio.run(asyncio_pool.run(jpeg(1), Limits(), str(tmp_path))).width == 320  # the worker goes on


def test_a_killed_worker_fails_its_task_and_the_others_go_on(asyncio_pool):
    async def scenario():
        slow = asyncio.ensure_future(asyncio_pool._submit(nap, (30,), True))
        while not any(w.owed for w in asyncio_pool.workers):  # sent (whether or not the worker began it)
            await asyncio.sleep(0)
        busy = next(w for w in asyncio_pool.workers if w.owed)
        os.kill(busy.proc.pid, signal.SIGKILL)
        with pytest.raises(workers.WorkerDied):
            await asyncio.wait_for(slow, 10)
        survivor = await asyncio_pool._submit(nap, (0,), True)
        assert survivor != busy.proc.pid and len(asyncio_pool.workers) == 1
        os.kill(survivor, signal.SIGKILL)
        with pytest.raises(workers.WorkerDied):
            await asyncio.wait_for(asyncio_pool._submit(nap, (0,), True), 10)
        with pytest.raises(workers.WorkerDied, match="every image worker"):
            await asyncio_pool._submit(nap, (0,), True)

    asyncio.run(scenario())


def test_threaded_path_and_close(tmp_path):
    pool = workers.IngestPool(2)  # without an asyncio loop (a reactor without asyncio) a thread waits on the pipe
    try:
        assert gc.get_freeze_count() > 0
        pids = [proc.pid for proc in pool.procs]
        facts = pool._call(workers.ingest, (jpeg(3), Limits(), str(tmp_path), False, os.getpid()))
        assert facts.sha256 == inspect_image(jpeg(3)).sha256
        with pytest.raises(ImageRejected):
            pool._call(workers.ingest, (b"", Limits(), str(tmp_path), False, os.getpid()))
    finally:
        pool.close()
    assert gc.get_freeze_count() == 0
    for pid in pids:
        with pytest.raises(ChildProcessError):  # reaped: gone, not a zombie
            os.waitpid(pid, os.WNOHANG)
