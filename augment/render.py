"""Render augmented copies of many samples: decode, ``augment``, encode with fixed settings, over processes.

Output bytes depend only on (image, targets, policy, version seed, sample id, k): never on the
number of workers or on the order jobs finish in. Results are yielded in job order, with a bounded
number of jobs in flight, so a whole dataset is streamed, never held in memory.
"""

from __future__ import annotations

import io
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from PIL import Image

from augment.core import augment, derive_seed
from augment.errors import AugmentError, RenderError
from augment.policy import Policy, parse_policy

JPEG_SETTINGS = {"quality": 95, "subsampling": "4:2:0", "optimize": False, "progressive": False}
PNG_SETTINGS = {"compress_level": 6, "optimize": False}
EXTENSIONS = {"jpeg": ".jpg", "png": ".png"}


class RenderJob(NamedTuple):
    """One augmented copy to make: copy ``k`` of sample ``sample_id`` (image as bytes or a file path)."""

    sample_id: str | int
    image: bytes | str | Path
    targets: Sequence[Mapping[str, Any]]
    k: int


@dataclass(frozen=True)
class RenderResult:
    """One rendered copy: encoded image ``data`` (``format`` "jpeg" or "png") and its targets and report."""

    sample_id: str | int
    k: int
    seed: int
    data: bytes
    format: str
    targets: list[dict[str, Any]]
    width: int
    height: int
    report: dict[str, Any]

    @property
    def extension(self) -> str:
        """File extension for ``data``: ".jpg" or ".png"."""
        return EXTENSIONS[self.format]


def decode_image(source: bytes | str | Path) -> tuple[np.ndarray, str]:
    """Decode image bytes or a file into an HxWx3 uint8 RGB array; also say "jpeg" (JPEG input) or "png"."""
    if isinstance(source, (str, Path)):
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            raise RenderError(f"cannot read image file {source} ({exc.strerror}); check the blob store path") from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        raise RenderError(f"expected image bytes or a path, found {type(source).__name__}")
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            rgb = img if img.mode == "RGB" else img.convert("RGB")
            array = np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise RenderError(f"cannot decode the image ({len(data)} bytes, starts {data[:8]!r}): {exc}; "
                          "re-ingest the asset or leave the sample out of the version") from None
    return np.ascontiguousarray(array), "jpeg" if data[:3] == b"\xff\xd8\xff" else "png"


def encode_image(image: np.ndarray, fmt: str) -> bytes:
    """Encode with fixed settings (JPEG quality 95, or PNG level 6, no metadata): same array, same bytes."""
    buffer = io.BytesIO()
    pil = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
    if fmt == "jpeg":
        pil.save(buffer, format="JPEG", **JPEG_SETTINGS)
    elif fmt == "png":
        pil.save(buffer, format="PNG", **PNG_SETTINGS)
    else:
        raise RenderError(f"expected output format 'jpeg' or 'png', found {fmt!r}")
    return buffer.getvalue()


def render_one(job: RenderJob | Sequence[Any], policy: Policy, version_seed: int) -> RenderResult:
    """Render one job in this process (what every worker of ``render_many`` runs)."""
    job = _as_job(job)
    seed = derive_seed(version_seed, job.sample_id, job.k)
    try:
        image, fmt = decode_image(job.image)
        out, targets, report = augment(image, job.targets, policy, seed)
    except AugmentError as exc:
        raise type(exc)(f"sample {job.sample_id!r} copy k={job.k}: {exc}") from exc
    return RenderResult(sample_id=job.sample_id, k=job.k, seed=seed, data=encode_image(out, fmt), format=fmt,
                        targets=targets, width=int(out.shape[1]), height=int(out.shape[0]), report=report)


def render_steps(image: bytes | str | Path, targets: Sequence[Mapping[str, Any]], policy: Policy,
                 steps: Sequence[Mapping[str, Any]], seed: int = 0) -> RenderResult:
    """Re-render a copy from its recorded ``steps`` (a report's: the transforms with their sampled
    parameters), not by drawing again; encoded like ``render_one``."""
    try:
        array, fmt = decode_image(image)
        out, new_targets, report = augment(array, targets, policy, seed, steps=steps)
    except AugmentError as exc:
        raise type(exc)(f"replaying the recorded steps: {exc}") from exc
    return RenderResult(sample_id="", k=0, seed=seed, data=encode_image(out, fmt), format=fmt, targets=new_targets,
                        width=int(out.shape[1]), height=int(out.shape[0]), report=report)


def render_many(jobs: Iterable[RenderJob | Sequence[Any]], policy: Policy, version_seed: int, workers: int = 1,
                progress: bool = True, max_in_flight: int | None = None, chunk_size: int = 8,
                mp_context: str | None = None) -> Iterator[RenderResult]:
    """Yield a ``RenderResult`` per job, in job order, rendering on ``workers`` processes.

    ``jobs`` may be any iterable (a generator streams). Jobs travel to workers ``chunk_size`` at a time,
    and at most ``max_in_flight`` jobs (default 16 per worker) are submitted but not yet yielded.
    ``workers=1`` renders in this process. ``progress`` shows a rich progress bar on stderr. An error stops
    the run; its message names the sample and copy. Workers come from a forkserver, which re-imports the
    calling script like ``spawn`` does: a script calling this needs an ``if __name__ == "__main__":`` guard.
    """
    for name, value in (("workers", workers), ("chunk_size", chunk_size), ("max_in_flight", max_in_flight or 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RenderError(f"render_many: expected {name} to be an integer >= 1, found {value!r}")
    total = len(jobs) if hasattr(jobs, "__len__") else None  # type: ignore[arg-type]
    chunks_in_flight = max(1, (max_in_flight or 16 * workers) // chunk_size)
    return _stream(jobs, policy, version_seed, workers, chunk_size, chunks_in_flight, mp_context, progress, total)


def _stream(jobs: Iterable[Any], policy: Policy, version_seed: int, workers: int, chunk_size: int,
            chunks_in_flight: int, mp_context: str | None, progress: bool, total: int | None) -> Iterator[RenderResult]:
    pool = _start_pool(policy, workers, mp_context) if workers > 1 else None
    pending: deque[Future[list[RenderResult]]] = deque()
    try:
        with _progress_bar(progress, total) as advance:
            if pool is None:
                for job in jobs:
                    result = render_one(job, policy, version_seed)
                    advance(1)
                    yield result
                return
            chunk: list[RenderJob] = []
            for job in jobs:
                chunk.append(_as_job(job))
                if len(chunk) == chunk_size:
                    pending.append(pool.submit(_work, chunk, version_seed))
                    chunk = []
                    if len(pending) >= chunks_in_flight:
                        yield from _next(pending, advance)
            if chunk:
                pending.append(pool.submit(_work, chunk, version_seed))
            while pending:
                yield from _next(pending, advance)
    finally:
        if pool is not None:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)


def _start_pool(policy: Policy, workers: int, mp_context: str | None) -> ProcessPoolExecutor:
    """Workers come from a forkserver (preloaded with augment), not a plain fork: a forked copy of a process
    whose OpenCV thread pool has run can deadlock in OpenCV. The forkserver starts once per process."""
    methods = multiprocessing.get_all_start_methods()
    method = mp_context or ("forkserver" if "forkserver" in methods else "spawn")
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["augment.render"])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                               initializer=_init_worker, initargs=(policy.text, policy.syntax))
    for future in [pool.submit(int) for _ in range(workers)]:
        future.result()  # workers are up (and have built the policy) before timing-sensitive work starts
    return pool


def _next(pending: deque[Future[list[RenderResult]]], advance: Any) -> list[RenderResult]:
    results = pending.popleft().result()
    advance(len(results))
    return results


_WORKER_POLICY: Policy | None = None


def _init_worker(text: str, syntax: str) -> None:
    """Build the policy (and its albumentations pipeline) once per worker; one OpenCV thread per worker."""
    global _WORKER_POLICY
    import cv2

    cv2.setNumThreads(1)
    _WORKER_POLICY = parse_policy(text, syntax)


def _work(jobs: list[RenderJob], version_seed: int) -> list[RenderResult]:
    assert _WORKER_POLICY is not None, "worker started without _init_worker"
    return [render_one(job, _WORKER_POLICY, version_seed) for job in jobs]


def _as_job(job: RenderJob | Sequence[Any]) -> RenderJob:
    if isinstance(job, RenderJob):
        return job
    if isinstance(job, Sequence) and len(job) == 4:
        return RenderJob(*job)
    raise RenderError(f"expected a job (sample_id, image bytes or path, targets, k), found {job!r:.100}")


class _Advance:
    def __init__(self, bar: Any, task: Any) -> None:
        self.bar, self.task = bar, task

    def __call__(self, n: int) -> None:
        if self.bar is not None:
            self.bar.advance(self.task, n)


def _progress_bar(enabled: bool, total: int | None) -> Any:
    if not enabled:
        return nullcontext(_Advance(None, None))
    from contextlib import contextmanager

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextmanager
    def bar() -> Iterator[_Advance]:
        with Progress(TextColumn("augment"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True)) as progress:
            yield _Advance(progress, progress.add_task("render", total=total))

    return bar()
