"""Overlapped prediction: decoding on one thread, inference on the caller's, writing on another.

``Pipeline.read`` decodes the inputs ahead on a background thread into a bounded queue (at most ``depth``
items, and at most ``max_bytes`` of arrays unless one item alone is larger); the caller runs inference on
each item as it arrives (the runner is built once, outside); ``Pipeline.submit`` hands the rendering and
writing of a result to a single writer thread, at most ``depth`` jobs waiting. Jobs run one at a time in
the order given and their outcomes come back to the caller in that order (``done`` callbacks, on the
caller's thread), so the files and messages are the same as a sequential run's. An exception in the decode
thread is raised by ``read`` where the item it failed on would have been; one in a job is raised by
``job.result()`` inside its ``done``. ``overlap=False`` runs the same stages one after the other on the
caller's thread, for comparison. ``StageTimes`` holds where the time went.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

__all__ = ["Pipeline", "StageTimes"]

T = TypeVar("T")
STAGES = ("decode", "infer", "render", "write", "wait")
DEPTH = 4
MAX_BYTES = 64 * 2**20
"""Arrays in flight per queue (a 720p frame is 2.8 MB; one 48 Mpx image alone is 144 MB and goes alone)."""


@dataclass
class StageTimes:
    """Seconds per stage: ``decode`` (reading images / video frames), ``infer`` (preprocess + inference +
    arg-max), ``render`` (overlays, colour and flow pictures), ``write`` (encoding and writing files),
    ``wait`` (the inference thread idle, waiting for a decoded input or for room in the writer's queue),
    ``wall`` (the whole loop), over ``frames`` predicted images or frames. With ``overlapped`` the decode,
    render and write seconds are spent on other threads, alongside inference."""

    decode: float = 0.0
    infer: float = 0.0
    render: float = 0.0
    write: float = 0.0
    wait: float = 0.0
    wall: float = 0.0
    frames: int = 0
    overlapped: bool = True

    @contextlib.contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        """Add the seconds spent in the ``with`` block to ``stage`` (one thread per stage adds to it)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            setattr(self, stage, getattr(self, stage) + time.perf_counter() - start)

    @property
    def fps(self) -> float:
        """Images or frames per second of wall time, reading and writing included."""
        return self.frames / self.wall if self.wall > 0 else 0.0

    @property
    def outside_inference(self) -> float:
        """Share of the wall time not spent in inference (decode, render, write and waits that it did not hide)."""
        return max(0.0, 1.0 - self.infer / self.wall) if self.wall > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**{stage: getattr(self, stage) for stage in (*STAGES, "wall", "frames", "overlapped")},
                "fps": self.fps, "outside_inference": self.outside_inference}

    def lines(self) -> list[str]:
        """Two lines for the end of ``alignseg predict``: throughput, then the seconds per stage."""
        how = "decode and write overlapped with inference" if self.overlapped else "stages run one after another"
        inference_fps = self.frames / self.infer if self.infer > 0 else 0.0
        return [
            f"throughput: {self.frames} frames in {self.wall:.2f} s = {self.fps:.2f} FPS end to end, reading and "
            f"writing included ({how}); inference alone {inference_fps:.2f} FPS, "
            f"{100 * self.outside_inference:.0f}% of the wall time outside inference",
            f"stages (s): decode {self.decode:.2f}, preprocess+inference {self.infer:.2f}, "
            f"overlay {self.render:.2f}, write {self.write:.2f}, inference waiting {self.wait:.2f}",
        ]


def _nbytes(item: object) -> int:
    """Bytes of the arrays in an item (an array, or a tuple holding some)."""
    parts = item if isinstance(item, tuple) else (item,)
    return sum(part.nbytes for part in parts if isinstance(part, np.ndarray))


class _Ahead:
    """Items of an iterable decoded ahead on a daemon thread into a bounded queue: the thread decodes the
    next item only while fewer than ``depth`` wait (and fewer than ``max_bytes`` of arrays, unless the queue
    is empty), so it is never more than ``depth`` items ahead of the consumer."""

    _END = object()

    def __init__(self, items: Iterable, times: StageTimes, depth: int, max_bytes: int) -> None:
        self._items = iter(items)
        self._times = times
        self._depth = depth
        self._max_bytes = max_bytes
        self._queue: deque[tuple[object, BaseException | None]] = deque()
        self._bytes = 0
        self._stopped = False
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._decode, name="alignseg-decode", daemon=True)
        self._thread.start()

    def _room(self) -> bool:
        return self._stopped or not self._queue or (len(self._queue) < self._depth and self._bytes < self._max_bytes)

    def _decode(self) -> None:
        try:
            while True:
                with self._ready:
                    self._ready.wait_for(self._room)
                    if self._stopped:
                        return
                error = None
                try:
                    with self._times.measure("decode"):
                        item = next(self._items)
                except StopIteration:
                    item = self._END
                except BaseException as exception:  # handed to the consumer, raised there
                    item, error = self._END, exception
                with self._ready:
                    self._queue.append((item, error))
                    self._bytes += _nbytes(item)
                    self._ready.notify_all()
                if item is self._END:
                    return
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:  # a generator's own cleanup (a video capture released) on its thread
                close()

    def __iter__(self) -> Iterator:
        while True:
            with self._ready:
                if not self._queue:
                    with self._times.measure("wait"):
                        self._ready.wait_for(lambda: bool(self._queue))
                item, error = self._queue.popleft()
                self._bytes -= _nbytes(item)
                self._ready.notify_all()
            if error is not None:
                raise error
            if item is self._END:
                return
            yield item

    def close(self) -> None:
        """Stop decoding (after the item in progress) and wait for the thread."""
        with self._ready:
            self._stopped = True
            self._ready.notify_all()
        self._thread.join()


class Pipeline:
    """The three stages of a prediction run (see the module docstring); use it as a context manager."""

    def __init__(self, *, overlap: bool = True, depth: int = DEPTH, max_bytes: int = MAX_BYTES) -> None:
        if depth < 1:
            raise ValueError(f"pipeline depth must be at least 1, got {depth}")
        self.times = StageTimes(overlapped=overlap)
        self.depth = depth
        self.max_bytes = max_bytes
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="alignseg-write") if overlap else None
        self._pending: deque[tuple[Future, Callable[[Future], None], int]] = deque()
        self._readers: list[_Ahead] = []
        self._start = time.perf_counter()

    def read(self, items: Iterable[T]) -> Iterator[T]:
        """The items of ``items``, decoded ahead on a thread when overlapped (errors raised here, in order)."""
        if self._writer is None:
            return self._inline(items)
        reader = _Ahead(items, self.times, self.depth, self.max_bytes)
        self._readers.append(reader)
        return iter(reader)

    def _inline(self, items: Iterable[T]) -> Iterator[T]:
        iterator = iter(items)
        while True:
            with self.times.measure("decode"):
                item = next(iterator, _Ahead._END)
            if item is _Ahead._END:
                return
            yield item

    def infer(self, function: Callable[..., T], *args, **kwargs) -> T:
        """``function(*args, **kwargs)`` on the caller's thread, its seconds counted as inference (and one
        frame more when it returns)."""
        with self.times.measure("infer"):
            result = function(*args, **kwargs)
        self.times.frames += 1
        return result

    def submit(self, job: Callable[[], Any], done: Callable[[Future], None], nbytes: int = 0) -> None:
        """Run ``job`` on the writer thread (inline when not overlapped); ``done(future)`` is called later on
        this thread, in submission order. Blocks while ``depth`` jobs (or ``max_bytes`` of ``nbytes``) wait."""
        while self._pending and (len(self._pending) >= self.depth or
                                 sum(size for _, _, size in self._pending) + nbytes > self.max_bytes):
            self._settle(block=True)
        if self._writer is None:
            future: Future = Future()
            try:
                future.set_result(self._timed(job))
            except Exception as error:
                future.set_exception(error)
        else:
            future = self._writer.submit(self._timed, job)
        self._pending.append((future, done, nbytes))
        self._settle(block=False)

    def settle(self, outcome: object, done: Callable[[Future], None]) -> None:
        """Hand ``done`` an outcome known already (a value, or an exception: a failed decode or inference), in
        order with the jobs submitted before it."""
        future: Future = Future()
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)
        self._pending.append((future, done, 0))
        self._settle(block=False)

    def _timed(self, job: Callable[[], T]) -> T:
        """Run a job, its seconds counted as writing, less those it counted as rendering."""
        start, render = time.perf_counter(), self.times.render
        try:
            return job()
        finally:
            self.times.write += time.perf_counter() - start - (self.times.render - render)

    def _settle(self, block: bool) -> None:
        """Call ``done`` for the finished jobs at the head of the queue (with ``block``: the first, waiting)."""
        while self._pending and (block or self._pending[0][0].done()):
            future, done, _ = self._pending[0]
            if not future.done():
                with self.times.measure("wait"):
                    future.exception()  # waits without raising
            self._pending.popleft()
            done(future)
            block = False

    def finish(self) -> StageTimes:
        """Wait for every job (their ``done`` called) and return the times, wall time included."""
        while self._pending:
            self._settle(block=True)
        self.times.wall = time.perf_counter() - self._start
        return self.times

    def close(self) -> None:
        """Stop the decode threads and the writer (waiting for the job in progress; the others are dropped)."""
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        if self._writer is not None:
            self._writer.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
