"""Where model work runs: inline while proven fast and only one client is connected, else on the pool."""

from __future__ import annotations

import asyncio
import time

from smflow.serving.dispatch import PROVEN_AFTER, Dispatcher
from smflow.serving.http_protocol import Response


def test_fast_work_runs_inline_once_proven_and_alone_slow_or_crowded_work_goes_to_the_pool() -> None:
    async def scenario() -> list[str]:
        dispatcher = Dispatcher(workers=2, timeout=5, inline_budget=0.01, inline_max_connections=1)
        seen = []

        async def place(key: str, work_seconds: float) -> str:
            result = dispatcher.run(key, lambda: time.sleep(work_seconds) or Response(200))
            if isinstance(result, Response):
                return "inline"
            assert (await result).status == 200
            return "pool"

        for _ in range(PROVEN_AFTER):
            seen.append(await place("fast", 0))  # not yet proven
        seen.append(await place("fast", 0))
        for _ in range(PROVEN_AFTER + 1):
            seen.append(await place("slow", 0.03))
        dispatcher.connections = lambda: 16
        seen.append(await place("fast", 0))
        dispatcher.shutdown()
        return seen

    assert asyncio.run(scenario()) == ["pool"] * PROVEN_AFTER + ["inline"] + ["pool"] * (PROVEN_AFTER + 1) + ["pool"]


def test_work_that_outlasts_the_timeout_is_answered_504() -> None:
    async def scenario() -> Response:
        dispatcher = Dispatcher(workers=1, timeout=0.05)
        answer = await dispatcher.submit(lambda: time.sleep(0.3) or Response(200))
        dispatcher.shutdown()
        return answer

    answer = asyncio.run(scenario())
    assert answer.status == 504 and b"did not answer within 0.05 s" in answer.body
