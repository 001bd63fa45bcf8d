"""Framework + version → ECR image URI through the SageMaker SDK's own tables, cached on disk.

Importing `sagemaker.core.image_uris` costs seconds, so it must never sit on the DAG-parse path: results
are memoised in-process and in `$SMFLOW_HOME/cache/images.json`, and compiled pipelines are cached too.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

from smflow.atomic_files import write_text_atomic
from smflow.errors import SmflowError
from smflow.settings import smflow_home


class ImageResolutionError(SmflowError, ValueError):
    pass


def _cache_file() -> Path:
    return smflow_home() / "cache" / "images.json"


def _read_cache() -> dict[str, str]:
    try:
        data = json.loads(_cache_file().read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(entries: dict[str, str]) -> None:
    """Best effort: the cache only saves the SDK import next time, so an unwritable home (a file, a full
    disk, no permission) must not fail a validate or compile."""
    try:
        write_text_atomic(_cache_file(), json.dumps(entries, indent=1, sort_keys=True))
    except OSError:
        pass


@lru_cache(maxsize=256)
def resolve_image(framework: str, version: str, region: str, instance_type: str, scope: str,
                  py_version: str | None = None) -> str:
    """The image SageMaker would use for `framework`/`version` in `region` (no network, no credentials)."""
    key = "|".join([framework, version, region, instance_type, scope, py_version or ""])
    cache = _read_cache()
    if key in cache:
        return cache[key]
    try:
        from sagemaker.core.image_uris import retrieve
    except ImportError as e:  # pragma: no cover - the SDK is a dependency of the venv
        raise ImageResolutionError(
            f"cannot resolve image for {framework} {version}: the sagemaker SDK is not installed "
            "(pip install 'sagemaker>=3'), or give `image: {uri: ...}` explicitly") from e
    logging.getLogger("sagemaker").setLevel(logging.WARNING)  # its INFO lines would pollute `compile --json`
    try:
        uri = retrieve(framework, region, version=version, py_version=py_version, instance_type=instance_type,
                       image_scope=scope)
    except (ValueError, KeyError, OSError) as e:  # an unknown framework is a missing table file (OSError)
        raise ImageResolutionError(f"no SageMaker image for framework '{framework}' version '{version}' in "
                                   f"{region} ({scope}): {e}") from None
    cache[key] = uri
    try:
        _write_cache(cache)
    except OSError:
        pass  # a read-only home only costs the next process a slower lookup
    return uri
