"""A serial inference pipeline: 2-15 containers chained in this process, each response the next request.

As on SageMaker, the client's request goes to the first container and the last container's response to the
client; every intermediate container answers in its own default type (`SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`,
as upstream containers pin it, else its handler's default), and that answer's content type is what the next
container is told it receives. Only the last container sees the client's Accept.
https://docs.aws.amazon.com/sagemaker/latest/dg/inference-pipeline-real-time.html
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from smflow.errors import SmflowError
from smflow.serving.container import LoadedContainer


class ContainerFailure(SmflowError, RuntimeError):
    """A container of a pipeline failed; `error` is what its handler raised (its status decides the answer)."""

    def __init__(self, container: LoadedContainer, index: int, count: int, error: Exception):
        super().__init__(f"container {index + 1}/{count} ({container.name}): {error}")
        self.container = container
        self.index = index
        self.count = count
        self.error = error


class SerialPipeline:
    """The containers of one model in order; with one container it is just that container."""

    # `invoke(body, content_type, accept) -> (body, content_type)`: the request through every container. With
    # one container that sets no variables of its own it is that handler's `invoke` itself (two calls fewer on
    # every request of the usual endpoint).
    invoke: Callable[[bytes, str, str | None], tuple[bytes, str]]

    def __init__(self, containers: Sequence[LoadedContainer]):
        if not containers:
            raise ValueError("a model needs at least one container")
        self.containers = list(containers)
        self.swaps_environment = any(c.swap_environment for c in self.containers)
        if len(self.containers) > 1:
            self.invoke = self._chain
        elif self.swaps_environment:
            self.invoke = self.containers[0].invoke
        else:
            self.invoke = self.containers[0].handler.invoke

    @property
    def first(self) -> LoadedContainer:
        return self.containers[0]

    def _chain(self, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
        """Chain the request through every container; a failure is a `ContainerFailure` naming which one."""
        count = len(self.containers)
        last = count - 1
        for index, container in enumerate(self.containers):
            try:
                body, content_type = container.invoke(body, content_type, accept if index == last else None)
            except Exception as e:
                raise ContainerFailure(container, index, count, e) from e
        return body, content_type
