"""An exclusive advisory lock on a file, held for a `with` block: how the local SageMaker's processes (a job
runner, a deployer, the CLI, a restarted scheduler) take turns on one durable record.

`flock` is released by the kernel when its holder dies, so a killed process never leaves a record locked.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """Wait for, then hold, an exclusive `flock` on `path` (created if missing)."""
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
