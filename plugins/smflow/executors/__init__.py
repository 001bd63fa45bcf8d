"""Executors: where compiled SageMaker requests run. `local` is the embedded default; `sagemaker` is AWS."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from smflow.executors.base import Executor

EXECUTORS = ("local", "sagemaker")


@lru_cache(maxsize=8)
def get_executor(name: str = "local") -> Executor:
    """One executor instance per name and process (imports stay lazy: Airflow parses DAGs without them)."""
    return make_executor(name)


def make_executor(name: str = "local") -> Executor:
    """A new executor reading the settings now in force (the CLI's; tasks share `get_executor`'s)."""
    if name == "local":
        from smflow.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "sagemaker":
        from smflow.executors.sagemaker import SageMakerExecutor

        return SageMakerExecutor()
    raise ValueError(f"unknown smflow executor '{name}'; use one of: {', '.join(EXECUTORS)} "
                     "(set SMFLOW_EXECUTOR or [smflow] executor in airflow.cfg)")
