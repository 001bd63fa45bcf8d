"""Where a request's model work runs: inline on the event loop when it is fast, on a worker thread when not.

A small model answers in tens of microseconds; handing that to a thread costs more than the work (a queue,
a wake-up, the GIL hand-over) and measured about halves throughput (bench/serving.py). But work that runs
inline holds up every other connection and `/ping`, which SageMaker requires to answer within 2 s. So each
model keeps a moving average of its call time: while it stays under `inline_budget` the call runs inline,
above it calls go to the thread pool (and a timeout answers 504 rather than never). A model's first calls
run on the pool, so a model never proven fast cannot block the loop; one slow inline call lifts the average
over the budget at once, sending the next calls to the pool.

And inline only while one client is connected (`inline_max_connections`): with several, the pool lets the
event loop's socket work (which releases the GIL) overlap a model call, and keeps each connection's turn
fair. Measured (bench/serving.py, 2 shared cores, Ridge, one CSV row): with 1 client inline answers ~3,700
req/s against ~2,800 through the pool; with 16 the two are within the run-to-run noise (±20%) of each
other, with comparable p99s.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

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

    def run(self, key: object, work: Callable[[], Response], *, lock: threading.RLock | None = None,
            inline: bool = True) -> Response | asyncio.Future[Response]:
        """`key` names the model whose timing decides; `lock`, when given, must be free to run inline."""
        timing = self._timings.get(key)
        if timing is None:
            timing = self._timings[key] = _Timing()
        crowded = self._max_connections > 0 and self.connections() > self._max_connections
        if inline and not crowded and timing.fast(self._budget) and (lock is None or lock.acquire(blocking=False)):
            started = time.perf_counter()
            try:
                return work()
            finally:
                timing.record(time.perf_counter() - started)
                if lock is not None:
                    lock.release()
        return self.submit(work, timing)

    def submit(self, work: Callable[[], Response], timing: _Timing | None = None) -> asyncio.Future[Response]:
        """Run on a worker thread; the answer is a 504 if the work outlasts the timeout (it still finishes)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Response] = loop.create_future()
        self._inflight += 1

        def timed() -> Response:
            started = time.perf_counter()
            try:
                return work()
            finally:
                if timing is not None:
                    timing.record(time.perf_counter() - started)

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
