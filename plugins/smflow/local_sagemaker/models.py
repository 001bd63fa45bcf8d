"""SageMaker's model API family on this machine (CreateModel, DescribeModel, DeleteModel): one JSON record
per model under `<home>/models/`, created atomically and exclusively (the name is taken once)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smflow.local_sagemaker.jobs.records import read_json, write_json_atomic
from smflow.local_sagemaker.shapes import Arns, check_name, is_plain_name, output
from smflow.local_sagemaker.timestamps import now_iso
from smflow.sagemaker_api import not_found_error, validation_error

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class Models:
    def __init__(self, models_dir: Path, arns: Arns):
        self.models_dir = models_dir
        self.arns = arns

    def handlers(self) -> dict[str, Handler]:
        return {"CreateModel": self.create, "DescribeModel": self.describe, "DeleteModel": self.delete}

    def _path(self, name: str) -> Path:
        return self.models_dir / f"{name}.json"

    def record(self, operation: str, name: str) -> dict[str, Any]:
        """The stored model (its CreateModel request, ARN, creation time); SageMaker's not-found otherwise."""
        path = self._path(name) if is_plain_name(name) else None
        if path is None or not path.is_file():
            raise not_found_error(operation, f'Could not find model "{self.arns.arn("model", name)}".')
        record: dict[str, Any] = read_json(path)
        return record

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["ModelName"]
        check_name("CreateModel", "ModelName", name)
        if not params.get("PrimaryContainer") and not params.get("Containers"):
            raise validation_error("CreateModel", "a model needs PrimaryContainer or Containers")
        arn = self.arns.arn("model", name)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        record = {"Request": params, "ModelArn": arn, "CreationTime": now_iso()}
        fd, tmp = tempfile.mkstemp(dir=self.models_dir, prefix=f".{name}.", suffix=".tmp")
        os.close(fd)
        try:
            write_json_atomic(Path(tmp), record)
            os.link(tmp, self._path(name))  # atomic and exclusive: fails if the model exists
        except FileExistsError:
            raise validation_error("CreateModel", f'Cannot create already existing model "{arn}".') from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        return {"ModelArn": arn}

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        record = self.record("DescribeModel", params["ModelName"])
        return output("DescribeModel", {**record["Request"], "ModelArn": record["ModelArn"],
                                        "CreationTime": record["CreationTime"]})

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        self.record("DeleteModel", params["ModelName"])
        self._path(params["ModelName"]).unlink(missing_ok=True)
        return {}
