"""JSON Schema of the native spec, for editors (yaml-language-server) and other tools."""

from __future__ import annotations

from typing import Any

from smflow.spec.model import PipelineSpec

SCHEMA_ID = "https://smflow.dev/schema/pipeline.json"


def pipeline_json_schema() -> dict[str, Any]:
    schema = PipelineSpec.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
