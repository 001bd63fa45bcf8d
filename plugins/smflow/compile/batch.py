"""The `<pipeline>__batch` DAG: per model unit with `batch:`, resolve the approved model, find the batches it
still owes, and predict each with one transform job.

The transform request is compiled here like every other (checked against botocore now), with two tokens the
predict operator fills per batch: `BATCH_TOKEN` (the batch id) and `VERSION_TOKEN` (`v<model version>`).
Job names are not the run's: the operator derives them from the batch digest and the model package ARN, so
any run that meets the same batch again reuses its job (compile/naming.py `batch_job_name`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from smflow.batch.ledger import INPUT_MANIFEST_NAME
from smflow.compile.kinds import StepKind
from smflow.compile.naming import bounded_name
from smflow.compile.requests import JOB_NAME, CompiledTask, RequestCompiler, parameter_as_text
from smflow.spec.batch_checks import PREPROCESS_INPUT, preprocess_step
from smflow.spec.model import BatchSpec, OnDataSchedule, PipelineSpec, RegisterStep, TransformStep
from smflow.spec.paths import resolved
from smflow.spec.resolve import PipelineDocument, ResolvedInput, StepNode

BATCH_TOKEN = "SMFLOW-BATCH-ID"
VERSION_TOKEN = "SMFLOW-MODEL-VERSION"
TRANSFORM_FIELDS = ("content_type", "accept", "split_type", "batch_strategy", "max_payload_mb",
                    "max_concurrent_transforms", "assemble_with", "input_filter", "join_source", "output_filter")


def predictions_asset(pipeline: str) -> str:
    """The Asset the batch DAG updates when it predicted something (downstream DAGs schedule on it)."""
    return f"smflow://{pipeline}/predictions"


def batch_task_ids(unit: str) -> dict[str, str]:
    """Always qualified by the unit (even with `options.task_ids: step`): two units' batch tasks never clash."""
    return {step: f"{unit}.{step}" for step in ("resolve_model", "find_batches", "preprocess", "predict")}


PREPROCESSED = "preprocessed/"  # under a batch's output folder: what its preprocess job wrote


def batch_schedule(doc: PipelineDocument) -> str | dict[str, Any] | None:
    value = doc.spec.schedule.batch
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, OnDataSchedule):
        return {"on_data": True, "poke_seconds": value.poke_seconds}
    return {"assets": list(value.assets)}


def unit_output(spec: PipelineSpec, unit: str, batch: BatchSpec) -> str:
    """Where a unit's predictions go (ending in '/'): `batch.output`, else `<bucket>/<prefix>/predictions/<unit>/`."""
    output = batch.output or f"s3://{spec.defaults.bucket}/{spec.prefix}/predictions/{unit}/"
    return output if output.endswith("/") else output + "/"


class BatchCompiler:
    """Compiles the batch tasks of one document, reusing the train side's compiler for names and defaults."""

    def __init__(self, doc: PipelineDocument, compiler: RequestCompiler):
        self.doc = doc
        self.compiler = compiler
        self.spec = doc.spec

    def units(self) -> list[tuple[str, BatchSpec]]:
        return [(name, unit.batch) for name, unit in self.spec.models.items() if unit.batch is not None]

    def output(self, unit: str, batch: BatchSpec) -> str:
        return unit_output(self.spec, unit, batch)

    def unit_node(self, unit: str, kind: type) -> StepNode | None:
        return next((n for n in self.doc.nodes.values() if n.unit == unit and isinstance(n.step, kind)), None)

    def group(self, unit: str, batch: BatchSpec) -> str:
        if batch.model.group:
            return batch.model.group
        register = self.unit_node(unit, RegisterStep)
        assert register is not None and isinstance(register.step, RegisterStep)  # batch_checks reported it
        return self.compiler.group_name(register, register.step.group)

    def tags(self, task_id: str) -> list[dict[str, str]]:
        tags = {"smflow:pipeline": self.spec.pipeline, "smflow:task": task_id, **self.spec.defaults.tags}
        return [{"Key": k, "Value": v} for k, v in tags.items()]

    def tasks(self, unit: str, batch: BatchSpec) -> tuple[list[CompiledTask], list[tuple[str, str]]]:
        ids = batch_task_ids(unit)
        output = self.output(unit, batch)
        resolve = CompiledTask(ids["resolve_model"], "resolve_model", None, {
            "ExecutionRoleArn": self.spec.defaults.role, "Tags": self.tags(ids["resolve_model"])},
            {}, params={"group": self.group(unit, batch), "version": batch.model.version,
                        "model_prefix": bounded_name(f"{self.spec.pipeline}-{unit}", 40)})
        find = CompiledTask(ids["find_batches"], "find_batches", None, {}, {}, params={
            "input": batch.input, "pattern": batch.pattern, "marker": batch.marker, "output": output,
            "resolve_task": ids["resolve_model"]})
        predict = CompiledTask(ids["predict"], "batch_predict", "CreateTransformJob",
                               self.transform_request(unit, batch, ids, output), {"predictions": output},
                               params={"find_task": ids["find_batches"], "resolve_task": ids["resolve_model"],
                                       "output": output, "outlets": [predictions_asset(self.spec.pipeline)],
                                       "job_prefix": bounded_name(f"{self.spec.pipeline}-{unit}-batch", 40)})
        preprocess = self.preprocess(unit, batch, ids, output)
        if preprocess is None:
            return [resolve, find, predict], [(resolve.task_id, find.task_id), (find.task_id, predict.task_id)]
        predict.params["preprocess_task"] = preprocess.task_id
        return [resolve, find, preprocess, predict], [(resolve.task_id, find.task_id),
                                                      (find.task_id, preprocess.task_id),
                                                      (preprocess.task_id, predict.task_id)]

    def preprocess(self, unit: str, batch: BatchSpec, ids: dict[str, str], output: str) -> CompiledTask | None:
        """`batch.preprocess` compiled by the processing builder (same code staging, image, launcher), then pointed
        at the batch: its objects in (a ManifestFile), `<batch folder>/preprocessed/` out."""
        step = preprocess_step(unit, batch)
        if step is None or batch.preprocess is None:
            return None
        own = batch.preprocess.source_dir
        source_dir = resolved(self.doc.base_dir, own if own is not None else self.spec.models[unit].source_dir)
        node = StepNode(ids["preprocess"], unit, step, ("models", unit, "batch", "preprocess"), source_dir)
        staged = ResolvedInput(f"{batch.input.rstrip('/')}/")
        doc = dataclasses.replace(self.doc, inputs={**self.doc.inputs, (node.task_id, PREPROCESS_INPUT): staged})
        task = RequestCompiler(doc).processing(node)
        folder = f"{output}{BATCH_TOKEN}/{VERSION_TOKEN}/"
        for item in task.request["ProcessingInputs"]:
            if item["InputName"] == PREPROCESS_INPUT:
                item["S3Input"].update(S3DataType="ManifestFile", S3Uri=folder + INPUT_MANIFEST_NAME)
        (out,) = task.request["ProcessingOutputConfig"]["Outputs"]
        out["S3Output"]["S3Uri"] = folder + PREPROCESSED
        task.kind = "batch_preprocess"
        task.outputs = {"preprocessed": folder + PREPROCESSED}
        task.params = {"find_task": ids["find_batches"], "resolve_task": ids["resolve_model"], "output": output,
                       "job_prefix": bounded_name(f"{self.spec.pipeline}-{unit}-prep", 40)}
        return task

    def transform_settings(self, unit: str, batch: BatchSpec) -> dict[str, Any]:
        """Each option: the batch's own, else the unit's training-side transform step's, else absent."""
        node = self.unit_node(unit, TransformStep)
        step = node.step if node is not None and isinstance(node.step, TransformStep) else None
        chosen: dict[str, Any] = {}
        for name in (*TRANSFORM_FIELDS, "instance_type", "instance_count"):
            value = getattr(batch.transform, name)
            if value is None and step is not None:
                value = getattr(step, name)
            chosen[name] = value
        chosen["instance_type"] = chosen["instance_type"] or self.spec.defaults.instance_type
        chosen["instance_count"] = chosen["instance_count"] or self.spec.defaults.instance_count
        environment = {**self.spec.defaults.environment, **(step.environment if step else {}),
                       **batch.transform.environment}
        chosen["environment"] = {k: parameter_as_text(v) for k, v in environment.items()}
        return chosen

    def transform_request(self, unit: str, batch: BatchSpec, ids: dict[str, str], output: str) -> dict[str, Any]:
        """CreateTransformJob as the SDK's Transformer sends it, on a ManifestFile listing the batch's objects."""
        s = self.transform_settings(unit, batch)
        folder = f"{output}{BATCH_TOKEN}/{VERSION_TOKEN}/"
        request: dict[str, Any] = {
            "TransformJobName": JOB_NAME,
            "ModelName": f"{{{{ smflow.output('{ids['resolve_model']}', 'model_name') }}}}",
            "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "ManifestFile",
                                                               "S3Uri": folder + INPUT_MANIFEST_NAME}}},
            "TransformOutput": {"S3OutputPath": folder},
            "TransformResources": {"InstanceType": s["instance_type"], "InstanceCount": s["instance_count"]},
            "Environment": s["environment"],
            "Tags": self.tags(ids["predict"]),
        }
        given = {
            "": {"BatchStrategy": s["batch_strategy"], "MaxPayloadInMB": s["max_payload_mb"],
                 "MaxConcurrentTransforms": s["max_concurrent_transforms"]},
            "TransformInput": {"ContentType": s["content_type"], "SplitType": s["split_type"]},
            "TransformOutput": {"Accept": s["accept"], "AssembleWith": s["assemble_with"]},
        }
        for section, fields in given.items():
            (request[section] if section else request).update({k: v for k, v in fields.items() if v is not None})
        processing = {k: v for k, v in {"InputFilter": s["input_filter"], "JoinSource": s["join_source"],
                                        "OutputFilter": s["output_filter"]}.items() if v is not None}
        if processing:
            request["DataProcessing"] = processing
        return request


BATCH_KINDS: tuple[StepKind, ...] = ("resolve_model", "find_batches", "batch_preprocess", "batch_predict")
