"""The per-batch manifest: proof that a batch was predicted by a model version, and what it produced.

Written at `<output>/<batch_id>/v<version>/_manifest.json` after the transform job completed (atomically: the
local store replaces files, S3 puts whole objects), it records the input objects with their ETags, the model
package ARN and version, the transform job and record counts. A batch with a manifest for a version and the
same digest is never predicted again by that version; a batch whose objects changed (new ETags, new digest)
is predicted again and its manifest replaced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from smflow.batch.discovery import Batch, folder_prefix

MANIFEST_NAME = "_manifest.json"
INPUT_MANIFEST_NAME = "_input.manifest"
FORMAT = 1

LedgerLookup = Callable[[Batch, str], dict[str, Any] | None]


def version_label(version: int | str) -> str:
    """`3` → `v3`: the folder of one model version's predictions of a batch."""
    return f"v{version}"


def batch_output(output: str, batch_id: str, version: int | str) -> str:
    """Where one batch's predictions by one model version go (ends in '/')."""
    return f"{folder_prefix(output)}{batch_id}/{version_label(version)}/"


def manifest_uri(output: str, batch_id: str, version: int | str) -> str:
    return batch_output(output, batch_id, version) + MANIFEST_NAME


def input_manifest(batch: Batch) -> bytes:
    """The batch's objects as a SageMaker ManifestFile (`[{"prefix": ...}, "key", ...]`) for the transform job."""
    prefix = batch.prefix
    return json.dumps([{"prefix": prefix}, *(uri[len(prefix):] for uri, _ in batch.objects)]).encode()


def build_manifest(batch: Batch, *, model_package_arn: str, version: int, model_name: str, job_name: str,
                   output: str, records: dict[str, int], reused_job: bool) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "batch_id": batch.batch_id,
        "digest": batch.digest,
        "inputs": [{"uri": uri, "etag": etag} for uri, etag in batch.objects],
        "model_package_arn": model_package_arn,
        "model_version": version,
        "model_name": model_name,
        "transform_job": job_name,
        "predictions": batch_output(output, batch.batch_id, version),
        "records": records,
        "reused_job": reused_job,
        "completed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def parse_manifest(data: bytes, uri: str) -> dict[str, Any]:
    """A stored manifest, or ValueError naming the file when it is not one (hand-edited, truncated by a tool)."""
    try:
        value = json.loads(data)
    except ValueError as e:
        raise ValueError(f"{uri} is not a batch manifest (not JSON: {e}); delete it to predict the batch again") \
            from None
    if not isinstance(value, dict) or "digest" not in value or "batch_id" not in value:
        raise ValueError(f"{uri} is not a batch manifest (no batch_id/digest); delete it to predict the batch again")
    return value


def pending(batches: Iterable[Batch], ledger_lookup: LedgerLookup, version: int | str) -> list[Batch]:
    """The batches `version` has not predicted yet: no manifest, or one for other contents (another digest)."""
    label = version_label(version)
    owed = []
    for batch in batches:
        manifest = ledger_lookup(batch, label)
        if manifest is None or manifest.get("digest") != batch.digest:
            owed.append(batch)
    return owed
