"""A SageMaker batch transform job, run on this machine against the local object store.

What a framework container does for `CreateTransformJob` is reproduced here (contracts reference §3, §4):
the model archive is unpacked to a model directory, the inference handler is loaded from
`SAGEMAKER_SUBMIT_DIRECTORY`/`SAGEMAKER_PROGRAM`, the batch environment variables are set, and every input
object becomes `<S3OutputPath>/<key relative to the input prefix>.out`, records in input order, split,
packed and assembled as the request says. A model with several containers is a serial inference
pipeline: each container's response is the next one's request.

The handler runs in the calling process (no HTTP hop), which is what makes MultiRecord CSV fast: a
whole payload is one `np.loadtxt` and one `model.predict`. Because user code and `os.environ` are
process-wide, the caller should run one transform job per worker process.

Fields the request leaves out take SageMaker's documented defaults (CreateTransformJob API reference,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html): SplitType None,
CompressionType None, AssembleWith None (responses concatenated). BatchStrategy, MaxPayloadInMB and
MaxConcurrentTransforms (absent, or 0 for the latter) come from the container's `GET /execution-parameters`
answer when it has one (a script's `execution_parameters_fn`), else MultiRecord, 6 MB and 1, the defaults the
SageMaker Python SDK's local mode applies too. Without Accept the request carries no Accept header and the
container answers its default (`SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`, else JSON); without ContentType none
is sent either.

Local choices SageMaker leaves open: MaxPayloadInMB counts MiB (1024²) bytes; 0 means no limit; requests
run one at a time whatever MaxConcurrentTransforms says (it is still passed to the handler); blank lines
are not records.
"""

from __future__ import annotations

import gzip
import json
import sys
import time
import traceback
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from smflow.errors import SmflowError
from smflow.local_sagemaker.containers.dataprocessing import (
    DataProcessing,
    DataProcessingError,
    join_record,
    parse_record,
    record_format,
    serialize_record,
    split_response,
)
from smflow.local_sagemaker.containers.model_data import ModelDataError, fetch_code, fetch_model_data
from smflow.local_sagemaker.containers.staging import ManifestError, parse_manifest
from smflow.local_sagemaker.requirements import RequirementsInstallError, satisfy_requirements
from smflow.local_sagemaker.store import InvalidUriError, LocalStore, ObjectNotFoundError, split_uri
from smflow.serving.container import LoadedContainer, describe_handler, load_container, scoped_environ
from smflow.serving.handler import HandlerLoadError, UnsupportedContentTypeError
from smflow.serving.xgboost_algorithm import serves_itself

_Stage = LoadedContainer  # one container of the model, as the model server holds it

MIB = 1024 * 1024
DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_BATCH_STRATEGY = "MultiRecord"
DEFAULT_MAX_CONCURRENT = 1
MAX_PAYLOAD_LIMIT_MB = 100
# execution-parameters fields → CreateTransformJob fields; containers answer BatchStrategy as MULTI_RECORD
EXECUTION_PARAMETERS = ("BatchStrategy", "MaxPayloadInMB", "MaxConcurrentTransforms")
_STRATEGY_NAMES = {"MultiRecord": "MultiRecord", "SingleRecord": "SingleRecord",
                   "MULTI_RECORD": "MultiRecord", "SINGLE_RECORD": "SingleRecord"}


class TransformJobError(SmflowError, RuntimeError):
    """A user-facing failure; `reason` becomes the job's FailureReason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TransformSettings:
    """The parts of a CreateTransformJob request that decide how data flows, validated once."""

    job_name: str
    input_uri: str
    data_type: str
    content_type: str | None
    compression: str
    split_type: str
    multi_record: bool
    max_payload_mb: int
    max_concurrent: int
    output_path: str
    accept: str | None
    assemble_lines: bool
    environment: dict[str, str]
    processing: DataProcessing
    absent: frozenset[str] = frozenset()  # of EXECUTION_PARAMETERS: left to the container or the default

    @property
    def payload_limit(self) -> int | None:
        return self.max_payload_mb * MIB if self.max_payload_mb else None

    def batch_environment(self) -> dict[str, str]:
        return {
            "SAGEMAKER_BATCH": "true",
            "SAGEMAKER_MAX_PAYLOAD_IN_MB": str(self.max_payload_mb),
            "SAGEMAKER_BATCH_STRATEGY": "MULTI_RECORD" if self.multi_record else "SINGLE_RECORD",
            "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": str(self.max_concurrent),
        }

    def with_execution_parameters(self, answer: Mapping[str, Any]) -> TransformSettings:
        """Fill what the request left out from the container's `/execution-parameters` answer.

        The request's own values win; an answer outside SageMaker's limits fails the job naming the field.
        """
        values: dict[str, Any] = {}
        where = "the container's /execution-parameters answer"
        if "BatchStrategy" in self.absent and "BatchStrategy" in answer:
            strategy = _STRATEGY_NAMES.get(answer["BatchStrategy"])
            if strategy is None:
                raise TransformJobError(f"{where} has BatchStrategy={answer['BatchStrategy']!r}; use MULTI_RECORD "
                                        "or SINGLE_RECORD")
            values["multi_record"] = strategy == "MultiRecord"
        if "MaxPayloadInMB" in self.absent and "MaxPayloadInMB" in answer:
            values["max_payload_mb"] = _int(answer["MaxPayloadInMB"], f"{where}: MaxPayloadInMB", 0,
                                            MAX_PAYLOAD_LIMIT_MB)
        if "MaxConcurrentTransforms" in self.absent and "MaxConcurrentTransforms" in answer:
            values["max_concurrent"] = _int(answer["MaxConcurrentTransforms"],
                                            f"{where}: MaxConcurrentTransforms", 1, 10_000)
        if not values:
            return self
        settled = replace(self, absent=self.absent - {k for k in EXECUTION_PARAMETERS if k in answer}, **values)
        _check_payload_product(settled.max_payload_mb, settled.max_concurrent)
        return settled

    def describe(self) -> str:
        """The settings that decide how data flows, and where each came from, for the job log."""
        def origin(field: str) -> str:
            return " (default)" if field in self.absent else ""

        accept = self.accept or "absent (the container's default)"
        return (f"{'MultiRecord' if self.multi_record else 'SingleRecord'}{origin('BatchStrategy')}, "
                f"SplitType {self.split_type}, MaxPayloadInMB {self.max_payload_mb}{origin('MaxPayloadInMB')}, "
                f"MaxConcurrentTransforms {self.max_concurrent}{origin('MaxConcurrentTransforms')}, "
                f"ContentType {self.content_type or 'absent'}, Accept {accept}, "
                f"AssembleWith {'Line' if self.assemble_lines else 'None'}")


def run_transform_job(
    request: Mapping[str, Any], model: Mapping[str, Any], store: LocalStore, workdir: Path, log: TextIO
) -> None:
    """Run one transform job to completion; raises `TransformJobError` with a FailureReason on user errors."""
    started = time.monotonic()
    settings = parse_transform_request(request)
    containers = _containers(model, request)
    objects = _list_inputs(settings, store)
    _log(log, f"transform job {settings.job_name}: model {model.get('ModelName', request.get('ModelName'))}, "
              f"{len(objects)} input object(s) from {settings.input_uri}")
    stages = [
        _load_stage(i, container, settings, store, workdir, len(containers), log)
        for i, container in enumerate(containers)
    ]
    settings = _settle_with_container(settings, stages, log)
    totals = [0, 0]
    with scoped_environ(stages[0].environment):
        for uri, relative in objects:
            records, requests = _transform_object(uri, relative, settings, stages, store, log)
            totals[0] += records
            totals[1] += requests
    seconds = time.monotonic() - started
    rate = f", {totals[0] / seconds:.0f} records/s" if seconds > 0 else ""
    _log(log, f"transform job {settings.job_name} done: {len(objects)} object(s), {totals[0]} record(s), "
              f"{totals[1]} request(s) in {seconds:.2f} s{rate}")


# ---- request parsing ----------------------------------------------------------------------------


def parse_transform_request(request: Mapping[str, Any]) -> TransformSettings:
    """Validate what the local run depends on; every error names the request field and the fix."""
    source = _get(request, "TransformInput", "DataSource", "S3DataSource")
    output = _get(request, "TransformOutput")
    transform_input = _get(request, "TransformInput")
    data_type = _choice(source.get("S3DataType", "S3Prefix"), "TransformInput.DataSource.S3DataSource.S3DataType",
                        ("S3Prefix", "ManifestFile", "AugmentedManifestFile"))
    if data_type == "AugmentedManifestFile":
        raise TransformJobError("S3DataType AugmentedManifestFile is not supported by the local executor; "
                                "use S3Prefix or ManifestFile")
    split_type = _choice(transform_input.get("SplitType", "None"), "TransformInput.SplitType",
                         ("None", "Line", "RecordIO", "TFRecord"))
    if split_type in ("RecordIO", "TFRecord"):
        raise TransformJobError(f"TransformInput.SplitType {split_type} is not supported by the local executor; "
                                "use Line (one record per line) or None (one record per object)")
    absent = frozenset(key for key in EXECUTION_PARAMETERS if request.get(key) is None)
    if request.get("MaxConcurrentTransforms") == 0:  # 0, like unset, asks the container (API reference)
        absent |= {"MaxConcurrentTransforms"}
    strategy = _choice(request.get("BatchStrategy") or DEFAULT_BATCH_STRATEGY, "BatchStrategy",
                       ("SingleRecord", "MultiRecord"))
    max_payload = _int(request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB), "MaxPayloadInMB", 0,
                       MAX_PAYLOAD_LIMIT_MB)
    max_concurrent = _int(request.get("MaxConcurrentTransforms") or DEFAULT_MAX_CONCURRENT,
                          "MaxConcurrentTransforms", 0, 10_000)
    _check_payload_product(max_payload, max_concurrent)
    environment = request.get("Environment") or {}
    if not isinstance(environment, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in environment.items()
    ):
        raise TransformJobError("Environment must map strings to strings (quote numbers and booleans)")
    try:
        processing = DataProcessing.from_request(request.get("DataProcessing"))
    except DataProcessingError as e:
        raise TransformJobError(str(e)) from e
    settings = TransformSettings(
        job_name=str(request.get("TransformJobName", "transform")),
        input_uri=_s3_uri(source.get("S3Uri"), "TransformInput.DataSource.S3DataSource.S3Uri"),
        data_type=data_type,
        content_type=transform_input.get("ContentType"),
        compression=_choice(transform_input.get("CompressionType", "None"), "TransformInput.CompressionType",
                            ("None", "Gzip")),
        split_type=split_type,
        multi_record=strategy == "MultiRecord",
        max_payload_mb=max_payload,
        max_concurrent=max_concurrent,
        output_path=_s3_uri(output.get("S3OutputPath"), "TransformOutput.S3OutputPath"),
        accept=output.get("Accept"),
        assemble_lines=_choice(output.get("AssembleWith", "None"), "TransformOutput.AssembleWith",
                               ("None", "Line")) == "Line",
        environment=dict(environment),
        processing=processing,
        absent=absent,
    )
    _check_data_processing(settings)
    return settings


def _check_payload_product(max_payload: int, max_concurrent: int) -> None:
    if max_payload and max_payload * max_concurrent > MAX_PAYLOAD_LIMIT_MB:
        raise TransformJobError(f"MaxConcurrentTransforms × MaxPayloadInMB = {max_concurrent} × {max_payload} "
                                f"exceeds SageMaker's limit of {MAX_PAYLOAD_LIMIT_MB} MB; lower one of them")


def _settle_with_container(settings: TransformSettings, stages: list[_Stage], log: TextIO) -> TransformSettings:
    """Ask the first container's `/execution-parameters` for what the request left out, then log the result.

    A handler without the route (no `execution_parameters` method, or one answering None) leaves SageMaker's
    defaults in place. When the answer changes a setting, the batch variables the handlers see change with it.
    """
    ask = getattr(stages[0].handler, "execution_parameters", None) if settings.absent else None
    answer = None
    if callable(ask):
        try:
            answer = ask()
        except Exception as e:
            detail = traceback.format_exception_only(e)[-1].strip()
            raise TransformJobError(f"container 1: GET /execution-parameters failed: {detail}") from e
    if answer:
        settled = settings.with_execution_parameters(answer)
        if settled is not settings:
            for stage in stages:
                stage.environment.update(settled.batch_environment())
            _log(log, f"execution-parameters from container 1: {json.dumps(answer, sort_keys=True)}")
        settings = settled
    _log(log, f"transform job {settings.job_name}: {settings.describe()}")
    return settings


def _check_data_processing(settings: TransformSettings) -> None:
    processing = settings.processing
    try:
        if not processing.input_filter.is_identity or processing.join_input:
            record_format(settings.content_type, "TransformInput.ContentType")
        if processing.join_input:
            wanted = "Line" if settings.split_type == "Line" else "None"
            if settings.assemble_lines != (wanted == "Line"):
                raise TransformJobError(f"JoinSource=Input needs TransformOutput.AssembleWith to equal "
                                        f"TransformInput.SplitType; set AssembleWith to {wanted}")
            if settings.accept and record_format(settings.accept, "TransformOutput.Accept") != record_format(
                settings.content_type, "TransformInput.ContentType"
            ):
                raise TransformJobError(f"JoinSource=Input needs TransformOutput.Accept ({settings.accept}) to "
                                        f"match TransformInput.ContentType ({settings.content_type})")
    except DataProcessingError as e:
        raise TransformJobError(str(e)) from e


def _get(request: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    node: Any = request
    for depth, key in enumerate(path):
        node = node.get(key) if isinstance(node, Mapping) else None
        if not isinstance(node, Mapping):
            raise TransformJobError(f"the request has no {'.'.join(path[:depth + 1])}; "
                                    "CreateTransformJob needs it (see the SageMaker API reference)")
    return node


def _choice(value: Any, field: str, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise TransformJobError(f"{field}={value!r} is not valid; use one of {', '.join(allowed)}")
    return str(value)


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TransformJobError(f"{field}={value!r} must be an integer from {low} to {high}")
    return value


def _s3_uri(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise TransformJobError(f"{field} is missing; give an s3:// URI")
    try:
        split_uri(value)
    except InvalidUriError as e:
        raise TransformJobError(f"{field}: {e}; give an s3://bucket/key URI") from e
    return value


# ---- model and handlers -------------------------------------------------------------------------


def _containers(model: Mapping[str, Any], request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    name = model.get("ModelName", request.get("ModelName"))
    if isinstance(model.get("PrimaryContainer"), Mapping):
        return [model["PrimaryContainer"]]
    containers = model.get("Containers")
    if isinstance(containers, list) and containers and all(isinstance(c, Mapping) for c in containers):
        return list(containers)
    raise TransformJobError(f"model {name} has neither PrimaryContainer nor Containers; recreate it with one")


def _load_stage(
    index: int, container: Mapping[str, Any], settings: TransformSettings, store: LocalStore, workdir: Path,
    count: int, log: TextIO,
) -> _Stage:
    """One container of the model, loaded as the model server loads it (`smflow.serving.container`), so a
    transform and an endpoint of the same model predict alike."""
    base = workdir / "model" if count == 1 else workdir / "models" / str(index)
    model_dir = base if count == 1 else base / "model"
    environment = {**(container.get("Environment") or {}), **settings.environment,
                   **settings.batch_environment()}
    try:
        fetch_model_data(container, store, model_dir, "ModelDataUrl")
        code_dir = fetch_code(environment.get("SAGEMAKER_SUBMIT_DIRECTORY"), store, model_dir,
                              (workdir if count == 1 else base) / "code")
    except ModelDataError as e:
        raise TransformJobError(str(e)) from e
    image = container.get("Image")
    _log(log, f"container {index + 1}/{count}: image {image or '?'}, model data "
              f"{container.get('ModelDataUrl', 'none')}, handler {describe_handler(image, environment)} "
              "(run in-process)")
    if not serves_itself(image, environment):  # the built-in XGBoost algorithm has no script requirements
        _satisfy_requirements(code_dir, (workdir if count == 1 else base) / "deps", log)
    try:
        return load_container(f"container {index + 1}", model_dir, code_dir, environment, image=image,
                              swap_environment=count > 1,
                              check_requirements=False)  # satisfied above, by the policy
    except HandlerLoadError as e:
        raise TransformJobError(f"container {index + 1}: {e}") from e


def _satisfy_requirements(code_dir: Path, target: Path, log: TextIO) -> None:
    """The same requirements policy as training: install what this environment does not already satisfy."""
    try:
        deps = satisfy_requirements(code_dir, target, say=lambda line: _log(log, line), output=log)
    except RequirementsInstallError as e:
        raise TransformJobError(f"installing {code_dir.name}/requirements.txt failed ({e}); see the job log") from e
    if deps is not None:
        sys.path.insert(0, str(deps))  # this process is the container: its handler imports from here on


# ---- inputs -------------------------------------------------------------------------------------


def _list_inputs(settings: TransformSettings, store: LocalStore) -> list[tuple[str, str]]:
    """(object URI, key relative to the input prefix) in key order."""
    if settings.data_type == "ManifestFile":
        return _manifest_inputs(settings.input_uri, store)
    prefix = settings.input_uri
    # S3 prefixes are plain string prefixes, trailing slash included (`in/` must not match `input.csv`).
    uris = [uri for uri in store.list(prefix) if uri.startswith(prefix)]
    if not uris:
        raise TransformJobError(f"no objects under TransformInput S3Uri {prefix}; check the URI or run the "
                                "step that writes the input first")
    parent = prefix[: prefix.rfind("/") + 1]
    pairs = []
    for uri in uris:
        rest = uri[len(prefix):]
        if not rest:
            relative = uri.rsplit("/", 1)[-1]
        elif rest.startswith("/") or prefix.endswith("/"):
            relative = rest.lstrip("/")
        else:
            relative = uri[len(parent):]
        pairs.append((uri, relative))
    return pairs


def _manifest_inputs(uri: str, store: LocalStore) -> list[tuple[str, str]]:
    try:
        prefix, keys = parse_manifest(store.read_bytes(uri))
    except ObjectNotFoundError as e:
        raise TransformJobError(f"manifest {uri} cannot be read as JSON: {e}") from e
    except ManifestError as e:
        if e.kind == "json":
            raise TransformJobError(f"manifest {uri} cannot be read as JSON: {e.detail}") from e
        if e.kind == "shape":
            raise TransformJobError(f'manifest {uri} must be [{{"prefix": "s3://bucket/path/"}}, "key1", "key2", ...]'
                                    ) from e
        raise TransformJobError(f"manifest {uri} {e.detail}") from e
    missing = [key for key in keys if not store.exists(prefix + key)]
    if missing:
        raise TransformJobError(f"manifest {uri} lists objects that do not exist under {prefix}: "
                                f"{', '.join(missing[:5])}")
    return [(prefix + key, key) for key in keys]


def _read_object(uri: str, relative: str, settings: TransformSettings, store: LocalStore) -> bytes:
    data = store.read_bytes(uri)
    if settings.compression == "Gzip":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise TransformJobError(f"{relative}: not a gzip stream ({e}); set TransformInput.CompressionType "
                                    "to None for uncompressed input") from e
    return data


# ---- one object ---------------------------------------------------------------------------------


def _transform_object(
    uri: str, relative: str, settings: TransformSettings, stages: list[_Stage], store: LocalStore, log: TextIO
) -> tuple[int, int]:
    """Transform one input object into its `.out` object; returns (records, requests)."""
    started = time.monotonic()
    data = _read_object(uri, relative, settings, store)
    if settings.processing.is_identity:
        parts, records, requests = _plain_outputs(data, relative, settings, stages)
    else:
        parts, records, requests = _processed_outputs(data, relative, settings, stages)
    out_uri = f"{settings.output_path.rstrip('/')}/{relative}.out"
    store.write_bytes(out_uri, b"".join(parts))
    _log(log, f"{relative}: {records} record(s) in {requests} request(s) → {out_uri} "
              f"({time.monotonic() - started:.2f} s)")
    return records, requests


def _plain_outputs(
    data: bytes, relative: str, settings: TransformSettings, stages: list[_Stage]
) -> tuple[list[bytes], int, int]:
    parts: list[bytes] = []
    records = 0
    for number, (payload, count) in enumerate(_payloads(data, relative, settings), 1):
        body, _ = _invoke(stages, payload, settings, relative, number, records + 1, records + count)
        parts.append(_assembled(body, settings.assemble_lines))
        records += count
    return parts, records, len(parts)


def _payloads(data: bytes, relative: str, settings: TransformSettings) -> Iterator[tuple[bytes, int]]:
    """(request body, records in it), in input order; MultiRecord packs whole lines up to the payload limit."""
    limit = settings.payload_limit
    if settings.split_type == "None":
        if data:
            _check_record_size(len(data), limit, relative, "the object (SplitType None sends it whole)")
            yield data, 1
        return
    if not settings.multi_record:
        for number, line in enumerate(data.split(b"\n"), 1):
            if line.strip():
                _check_record_size(len(line), limit, relative, f"line {number}")
                yield line, 1
        return
    start, size = 0, len(data)
    while start < size:
        end = size if limit is None or size - start <= limit else data.rfind(b"\n", start, start + limit) + 1
        if end <= start:  # no line break within the limit: this one record does not fit
            assert limit is not None
            record_end = data.find(b"\n", start)
            length = (size if record_end < 0 else record_end + 1) - start
            line_number = data.count(b"\n", 0, start) + 1
            _check_record_size(max(length, limit + 1), limit, relative, f"line {line_number}")
        payload = data[start:end]
        start = end
        if not payload.isspace():
            if b"\n\n" in payload:  # blank lines are not records: count the others (rare, slower path)
                records = sum(1 for line in payload.split(b"\n") if line.strip())
            else:
                records = payload.count(b"\n") + (0 if payload.endswith(b"\n") else 1)
            yield payload, records


def _check_record_size(length: int, limit: int | None, relative: str, what: str) -> None:
    if limit is not None and length > limit:
        raise TransformJobError(f"{relative}: {what} is {length / MIB:.2f} MB, larger than MaxPayloadInMB "
                                f"({limit // MIB} MB); raise MaxPayloadInMB (at most {MAX_PAYLOAD_LIMIT_MB}) or "
                                "split the input into smaller records")


def _assembled(body: bytes, lines: bool) -> bytes:
    """AssembleWith Line: each response ends with exactly one newline, so there is one prediction per line."""
    if not lines:
        return body
    if body.endswith(b"\r\n"):
        body = body[:-2]
    elif body.endswith(b"\n"):
        body = body[:-1]
    return body + b"\n"


def _invoke(
    stages: list[_Stage], payload: bytes, settings: TransformSettings, relative: str, number: int, first: int,
    last: int,
) -> tuple[bytes, str]:
    """Send one request through every container; user errors become a FailureReason naming the records."""
    body, content_type = payload, settings.content_type or ""
    for index, stage in enumerate(stages):
        accept = settings.accept if index == len(stages) - 1 else None
        try:
            body, content_type = stage.invoke(body, content_type, accept)
        except UnsupportedContentTypeError as e:
            field = "TransformInput.ContentType" if e.header == "Content-Type" else "TransformOutput.Accept"
            raise TransformJobError(f"{relative}: the model rejected the request ({e}); check {field}") from e
        except Exception as e:
            where = f"record {first}" if first == last else f"records {first}-{last}"
            container = f" in container {index + 1}" if len(stages) > 1 else ""
            detail = traceback.format_exception_only(e)[-1].strip()
            raise TransformJobError(f"{relative}: request {number} ({where}) failed{container} in "
                                    f"{stage.handler.module_path.name}: {detail}") from e
    return body, content_type


# ---- DataProcessing path ------------------------------------------------------------------------


def _processed_outputs(
    data: bytes, relative: str, settings: TransformSettings, stages: list[_Stage]
) -> tuple[list[bytes], int, int]:
    """Filter each record, pack, predict, then join and filter each prediction (per record, in order)."""
    processing = settings.processing
    raw = [data] if settings.split_type == "None" else [line for line in data.split(b"\n") if line.strip()]
    raw = [r for r in raw if r]
    needs_parse = processing.join_input or not processing.input_filter.is_identity
    in_fmt = record_format(settings.content_type, "TransformInput.ContentType") if needs_parse else ""
    parsed: list[Any] = []
    bodies: list[bytes] = []
    try:
        for record in raw:
            value = parse_record(record, in_fmt) if needs_parse else None
            parsed.append(value)
            if processing.input_filter.is_identity:
                bodies.append(record.rstrip(b"\r\n"))
            else:
                bodies.append(serialize_record(processing.input_filter.apply(value), in_fmt).encode("utf-8"))
    except (DataProcessingError, ValueError) as e:
        raise TransformJobError(f"{relative}: record {len(bodies) + 1}: {e}") from e
    parts: list[bytes] = []
    requests = 0
    for start, end in _record_batches(bodies, relative, settings):
        requests += 1
        payload = b"\n".join(bodies[start:end]) if end - start > 1 else bodies[start]
        body, content_type = _invoke(stages, payload, settings, relative, requests, start + 1, end)
        if not processing.per_record_output:
            parts.append(_assembled(body, settings.assemble_lines))
            continue
        try:
            parts.extend(_joined_outputs(body, content_type, parsed[start:end], in_fmt, settings))
        except DataProcessingError as e:
            raise TransformJobError(f"{relative}: records {start + 1}-{end}: {e}") from e
    return parts, len(raw), requests


def _record_batches(bodies: list[bytes], relative: str, settings: TransformSettings) -> Iterator[tuple[int, int]]:
    limit = settings.payload_limit
    start, size = 0, 0
    for index, body in enumerate(bodies):
        _check_record_size(len(body), limit, relative, f"record {index + 1}")
        grown = size + len(body) + (1 if index > start else 0)
        if index > start and (not settings.multi_record or (limit is not None and grown > limit)):
            yield start, index
            start, grown = index, len(body)
        size = grown
    if bodies:
        yield start, len(bodies)


def _joined_outputs(
    body: bytes, content_type: str, sources: list[Any], in_fmt: str, settings: TransformSettings
) -> list[bytes]:
    processing = settings.processing
    out_fmt = record_format(content_type, "the model's response type (TransformOutput.Accept)")
    if processing.join_input and out_fmt != in_fmt:
        raise DataProcessingError(f"JoinSource=Input: the model answered {content_type} for {settings.content_type} "
                                  f"input; set TransformOutput.Accept to {settings.content_type}")
    multi = settings.multi_record and settings.split_type == "Line"
    outputs = split_response(body, out_fmt, len(sources), multi)
    parts = []
    for source, output in zip(sources, outputs, strict=True):
        value = join_record(source, output, out_fmt) if processing.join_input else output
        text = serialize_record(processing.output_filter.apply(value), out_fmt)
        parts.append(text.encode("utf-8") + (b"\n" if settings.assemble_lines else b""))
    return parts


def _log(log: TextIO, line: str) -> None:
    log.write(line + "\n")
    log.flush()
