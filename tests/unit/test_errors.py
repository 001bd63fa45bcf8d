"""One exception hierarchy: every exception class smflow defines derives from SmflowError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import smflow
from smflow.errors import SmflowError

# Control flow, not an error: raised inside a job runner to unwind on StopTrainingJob, like KeyboardInterrupt.
NOT_ERRORS = {"smflow.local_sagemaker.jobs.records.JobStopped"}


def test_every_smflow_exception_derives_from_the_root() -> None:
    found = []
    for info in pkgutil.walk_packages(smflow.__path__, "smflow."):
        if info.name.endswith("__main__"):
            continue
        if info.name.startswith("smflow.local_sagemaker.images.compat."):
            continue  # stand-ins for packages the images ship: they run in jobs, where smflow is not importable
        module = importlib.import_module(info.name)
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            qualified = f"{cls.__module__}.{cls.__qualname__}"
            if cls.__module__ == info.name and issubclass(cls, BaseException) and qualified not in NOT_ERRORS:
                found.append(cls)
                assert issubclass(cls, SmflowError), f"{qualified} does not derive from smflow.errors.SmflowError"
    assert len(found) >= 20
