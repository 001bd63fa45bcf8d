"""The batch operators' exactly-once rules without Airflow running: job names, --input selection, and a retried
predict task passing over batches whose manifest is already written."""

from __future__ import annotations

import json
from pathlib import Path

from smflow.batch.discovery import Batch
from smflow.batch.ledger import build_manifest, manifest_uri
from smflow.executors.local import LocalExecutor
from smflow.operators.batch import PredictBatchesOperator, batch_job_name, model_name_for, selected

IN = "s3://bkt/in/"
OUT = "s3://bkt/out/"
ARN = "arn:aws:sagemaker:us-east-1:000000000000:model-package/g/3"


def test_names_come_from_the_batch_and_the_package_only() -> None:
    batch = Batch("day1.csv", ((IN + "day1.csv", "e1"),))
    name = batch_job_name("scoring-m-batch", batch, ARN)
    assert name == batch_job_name("scoring-m-batch", Batch("day1.csv", ((IN + "day1.csv", "e1"),)), ARN)
    assert name != batch_job_name("scoring-m-batch", Batch("day1.csv", ((IN + "day1.csv", "e2"),)), ARN)
    assert name != batch_job_name("scoring-m-batch", batch, ARN.replace("/3", "/4"))
    assert batch_job_name("scoring-m-batch", batch, ARN, 2) == name + "-a2" and len(name) <= 63
    assert model_name_for("scoring-m", ARN, 3).startswith("scoring-m-v3-")


def test_input_selects_batches_whose_objects_all_lie_under_it() -> None:
    a = Batch("d1", ((IN + "d1/a.csv", "1"), (IN + "d1/b.csv", "2")))
    b = Batch("d2", ((IN + "d2/a.csv", "3"),))
    assert selected([a, b], None) == [a, b]
    assert selected([a, b], IN + "d1/") == [a] and selected([a, b], IN + "d2/a.csv") == [b]
    assert selected([a, b], IN + "d1/a.csv") == []  # half a batch is not a batch


def test_a_recorded_batch_is_not_predicted_again_by_a_retry(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "home", tmp_path / "store")
    executor.write_bytes(IN + "day1.csv", b"1,2\n")
    batch = Batch("day1.csv", ((IN + "day1.csv", executor.store.etag(IN + "day1.csv")),))
    manifest = build_manifest(batch, model_package_arn=ARN, version=3, model_name="m", job_name="the-job",
                              output=OUT, records={"objects": 1, "input": 1, "output": 1}, reused_job=False)
    executor.write_bytes(manifest_uri(OUT, "day1.csv", 3), json.dumps(manifest).encode())
    operator = PredictBatchesOperator(task_id="m.predict", operation="CreateTransformJob", request={},
                                      params_={"output": OUT, "job_prefix": "p-m-batch"})
    done = operator.predict(executor, batch, {"model_package_arn": ARN, "model_version": 3, "model_name": "m"}, {})
    assert done == {"batch_id": "day1.csv", "job_name": "the-job", "predictions": OUT + "day1.csv/v3/",
                    "records": {"objects": 1, "input": 1, "output": 1}, "reused": True}
    assert executor.call("ListTransformJobs", {})["TransformJobSummaries"] == []
