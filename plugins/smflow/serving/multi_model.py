"""A multi-model endpoint's models: loaded on first use, kept in an LRU bounded by count and by memory.

SageMaker resolves `TargetModel` (the `X-Amzn-SageMaker-Target-Model` header) against the model's S3 prefix
and loads that archive on its first invocation; models not used lately are unloaded when memory runs short.
Here the prefix is a local directory (`model_root`): the target names a `<name>.tar.gz` there (extracted
into a scratch directory on first use) or an already extracted directory. What a model costs is estimated
as the larger of the process's resident-memory growth while it loaded and its size on disk, so a model that
allocates little (or that the allocator fits into freed memory) still counts. A load that imported modules
(the first model's scikit-learn, say) counts its size on disk only: imports are shared and never unloaded.
https://docs.aws.amazon.com/sagemaker/latest/dg/multi-model-endpoints.html
https://docs.aws.amazon.com/sagemaker/latest/dg/invoke-multi-model-endpoint.html
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from smflow.errors import SmflowError
from smflow.local_sagemaker.containers.staging import TarballError, extract_tarball
from smflow.serving.config import ContainerConfig, MultiModelConfig
from smflow.serving.container import load_container
from smflow.serving.pipeline import SerialPipeline

TARGET_HEADER = "x-amzn-sagemaker-target-model"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
MB = 1024 * 1024


class TargetModelError(SmflowError, ValueError):
    """The target model header is missing or is not a path inside the model root (HTTP 400)."""

    status_code = 400


class ModelNotFoundError(SmflowError, LookupError):
    """No such target model under the model root (HTTP 404)."""

    status_code = 404


class ModelTooLargeError(SmflowError, MemoryError):
    """One model alone needs more memory than the endpoint may use (HTTP 507, as SageMaker's containers answer)."""

    status_code = 507


@dataclass
class LoadedModel:
    target: str
    pipeline: SerialPipeline
    memory_bytes: int
    extracted: Path | None  # the scratch copy to delete when the model is unloaded

    def describe(self) -> dict[str, object]:
        return {"modelName": self.target, "memoryMB": round(self.memory_bytes / MB, 3)}


def resident_bytes() -> int:
    """This process's resident set size (Linux /proc); 0 where unknown, so the on-disk size decides."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def disk_bytes(folder: Path) -> int:
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


class MultiModelCache:
    """Target model → loaded pipeline. `get` is cheap (the event loop calls it); `load` blocks (a worker does)."""

    def __init__(self, config: MultiModelConfig, container: ContainerConfig, scratch: Path,
                 log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
                 freeze_heap: bool = True):
        self.config = config
        self.freeze_heap = freeze_heap
        self.container = container
        self.root = config.model_root.resolve()
        self.scratch = scratch
        self._log = log
        self._models: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()  # guards _models
        self._load_lock = threading.Lock()  # one load at a time: memory is measured per load
        self._extracted = 0

    # ---- lookups ----------------------------------------------------------------------------------

    def get(self, target: str) -> LoadedModel | None:
        with self._lock:
            model = self._models.get(target)
            if model is not None:
                self._models.move_to_end(target)
            return model

    def loaded(self) -> list[dict[str, object]]:
        with self._lock:
            return [m.describe() for m in self._models.values()]

    @property
    def memory_bytes(self) -> int:
        with self._lock:
            return sum(m.memory_bytes for m in self._models.values())

    def source(self, target: str) -> Path:
        """The header's value → the archive or directory it names, or a 400/404 that says why."""
        cleaned = target.strip()
        relative = PurePosixPath(cleaned)
        if not cleaned or relative.is_absolute() or ".." in relative.parts or "\\" in cleaned:
            raise TargetModelError(f"TargetModel {target!r} must be a path relative to the endpoint's model "
                                   "location, such as 'model-1.tar.gz'")
        candidates = [self.root / relative]
        if cleaned.endswith(ARCHIVE_SUFFIXES):  # an archive the launcher already extracted to <name>/
            candidates.append(self.root / re.sub(r"\.(tar\.gz|tgz)$", "", cleaned))
        for candidate in candidates:
            resolved = candidate.resolve()
            if not resolved.is_relative_to(self.root):
                raise TargetModelError(f"TargetModel {target!r} leads outside the endpoint's model location")
            if resolved.is_dir() or (resolved.is_file() and resolved.name.endswith(ARCHIVE_SUFFIXES)):
                return resolved
        raise ModelNotFoundError(f"no model {target!r} on this multi-model endpoint ({self.root} has no "
                                 f"{cleaned}); TargetModel is the archive's path relative to the endpoint's "
                                 "model location, e.g. 'model-1.tar.gz'")

    # ---- loading and eviction ---------------------------------------------------------------------

    def load(self, target: str) -> LoadedModel:
        """Load `target` unless loaded meanwhile, then evict the least recently used beyond the bounds."""
        with self._load_lock:
            model = self.get(target)
            if model is not None:
                return model
            source = self.source(target)
            extracted: Path | None = None
            model_dir = source
            if source.is_file():
                self._extracted += 1
                extracted = model_dir = self.scratch / f"{self._extracted}-{re.sub(r'[^A-Za-z0-9._-]', '_', target)}"
                try:
                    extract_tarball(source, model_dir)
                except TarballError as e:
                    shutil.rmtree(model_dir, ignore_errors=True)
                    raise ModelNotFoundError(f"model {target!r}: {source.name} is not a readable .tar.gz ({e}); "
                                             "pack it with `tar -czf model.tar.gz -C <dir> .`") from e
            before, modules = resident_bytes(), len(sys.modules)  # the load's own growth, not the extraction's
            try:
                container = load_container(self.container.name, model_dir, self.container.code_dir,
                                           self.container.environment, image=self.container.image)
            except BaseException:
                if extracted is not None:
                    shutil.rmtree(extracted, ignore_errors=True)
                raise
            grown = resident_bytes() - before if len(sys.modules) == modules else 0  # imports stay: not the model's
            memory = max(grown, disk_bytes(model_dir))
            model = LoadedModel(target, SerialPipeline([container]), memory, extracted)
            limit = self.config.max_memory_mb * MB
            if memory > limit:
                self._unload(model)
                raise ModelTooLargeError(f"model {target!r} needs about {memory / MB:.1f} MB, more than this "
                                         f"endpoint's {self.config.max_memory_mb} MB for models; raise "
                                         "max_memory_mb or use a larger instance")
            with self._lock:
                self._models[target] = model
                evicted = self._over_bounds(limit)
            for old in evicted:
                self._unload(old)
            if self.freeze_heap and len(sys.modules) != modules:
                # The first load imported the model's libraries: keep those objects out of every later GC pass. Models
                # themselves stay collectable (an evicted one is freed by reference counting, any cycles by the GC).
                gc.freeze()
            self._log(f"model server: loaded {target} (~{memory / MB:.1f} MB); "
                      + (f"unloaded {', '.join(m.target for m in evicted)}; " if evicted else "")
                      + f"{len(self._models)} loaded")
            return model

    def _over_bounds(self, limit: int) -> list[LoadedModel]:
        """Pop least recently used models until count and memory fit (the newest one always stays)."""
        evicted = []
        total = sum(m.memory_bytes for m in self._models.values())
        while len(self._models) > 1 and (len(self._models) > self.config.max_models or total > limit):
            _, old = self._models.popitem(last=False)
            total -= old.memory_bytes
            evicted.append(old)
        return evicted

    def unload(self, target: str) -> bool:
        with self._lock:
            model = self._models.pop(target, None)
        if model is None:
            return False
        self._unload(model)
        return True

    def _unload(self, model: LoadedModel) -> None:
        """Forget the model (an in-flight call keeps its own reference until it answers) and its scratch copy."""
        if model.extracted is not None:
            shutil.rmtree(model.extracted, ignore_errors=True)


    def clear(self) -> None:
        with self._lock:
            models = list(self._models.values())
            self._models.clear()
        for model in models:
            if model.extracted is not None:
                shutil.rmtree(model.extracted, ignore_errors=True)
