"""Where a request's model work runs: inline on the event loop when it is fast, on a worker thread when not.

A small model answers in tens of microseconds; handing that to a thread costs more than the work (a queue,
a wake-up, the GIL hand-over) and measured about halves throughput (bench/serving.py). But work that runs
inline holds up every other connection and `/ping`, which SageMaker requires to answer within 2 s. So each
model keeps a moving average of its call time: while it stays under `inline_budget` the call runs inline,
above it calls go to the thread pool (and a timeout answers 504 rather than never). A model's first calls
run on the pool, so a model never proven fast cannot block the loop; one slow inline call lifts the average
over the budget at once, sending the next calls to the pool.

However many clients are connected: a fast call inline takes no longer than the socket work of one
request, and each connection still gets its turn in the loop. Measured (bench/serving.py, 2 shared cores,
Ridge, one CSV row, 16 clients, one process): inline ~5,800-6,000 req/s against ~4,300-5,200 with the calls
on the pool. `inline_max_connections` (0 by default: no limit) can still send calls to the pool whenever
more than that many clients are connected.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from time import perf_counter
from typing import Any

from smflow.serving.http_protocol import Response, error_response

INLINE_BUDGET_SECONDS = 0.002
SMOOTHING = 0.2  # weight of the newest call in the moving average
PROVEN_AFTER = 3  # calls measured on the pool before a model may run inline


class _Timing:
    __slots__ = ("average", "calls")

    def __init__(self) -> None:
        self.average = 0.0
        self.calls = 0

    def record(self, seconds: float) -> None:
        self.average = seconds if self.calls == 0 else self.average + SMOOTHING * (seconds - self.average)
        self.calls += 1

    def fast(self, budget: float) -> bool:
        return self.calls >= PROVEN_AFTER and self.average < budget


class Dispatcher:
    """Runs `work()` (which returns a Response and maps its own errors) inline or on the pool, by measurement."""

    def __init__(self, workers: int, timeout: float, inline_budget: float = INLINE_BUDGET_SECONDS,
                 inline_max_connections: int = 0):
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="smflow-model")
        self._timeout = timeout
        self._budget = inline_budget
        self._max_connections = inline_max_connections  # 0: no limit
        self.connections: Callable[[], int] = lambda: 1  # how many clients are connected now (the server tells)
        self._timings: dict[object, _Timing] = {}
        self._inflight = 0

    @property
    def inflight(self) -> int:
        return self._inflight

    def run(self, key: object, work: Callable[..., Response], *args: Any, lock: threading.RLock | None = None,
            inline: bool = True) -> Response | asyncio.Future[Response]:
        """`work(*args)` for the model `key` names, whose timing decides; `lock`, when given, must be free to run
        inline. (Arguments rather than a closure, and the timing kept here: this runs on every request.)"""
        timing = self._timings.get(key)
        if timing is None:
            timing = self._timings[key] = _Timing()
        if (inline and timing.calls >= PROVEN_AFTER and timing.average < self._budget
                and (self._max_connections == 0 or self.connections() <= self._max_connections)
                and (lock is None or lock.acquire(blocking=False))):
            started = perf_counter()
            try:
                return work(*args)
            finally:
                took = perf_counter() - started
                timing.average += SMOOTHING * (took - timing.average)
                timing.calls += 1
                if lock is not None:
                    lock.release()
        return self.submit(functools.partial(work, *args) if args else work, timing)

    def submit(self, work: Callable[[], Response], timing: _Timing | None = None) -> asyncio.Future[Response]:
        """Run on a worker thread; the answer is a 504 if the work outlasts the timeout (it still finishes)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Response] = loop.create_future()
        self._inflight += 1

        def timed() -> Response:
            started = perf_counter()
            try:
                return work()
            finally:
                if timing is not None:
                    timing.record(perf_counter() - started)

        def settle(done: Future[Response]) -> None:
            self._inflight -= 1
            timer.cancel()
            if answer.done():
                return
            error = done.exception()
            if error is None:
                answer.set_result(done.result())
            else:
                answer.set_result(error_response(500, f"the model server failed: {type(error).__name__}: {error}"))

        def expire() -> None:
            if not answer.done():
                answer.set_result(error_response(
                    504, f"the model did not answer within {self._timeout:g} s (SAGEMAKER_MODEL_SERVER_TIMEOUT); "
                         "send fewer records per request or make the handler faster", "ModelTimeout"))

        timer = loop.call_later(self._timeout, expire)
        future = self._pool.submit(timed)

        def wake(done: Future[Response]) -> None:
            try:
                loop.call_soon_threadsafe(settle, done)
            except RuntimeError:  # the loop closed at shutdown: nobody waits for the answer any more
                pass

        future.add_done_callback(wake)
        return answer

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
