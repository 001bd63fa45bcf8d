"""Seed-framework confs (aws-samples/dynamic-sagemaker-pipelines-framework) → the native spec, files unchanged.

Teams that already describe pipelines as `conf.yaml` files for that framework keep them as they are: this module
reads them with the same semantics the framework's services give them (which section a step reads, how chained
inputs are named inside the container, which defaults apply), writes the equivalent native spec data, and lets
the native validator and resolver judge it. Nothing downstream knows a seed conf was involved.

Errors must still point at the files the user edits. Every native key path written here remembers the seed
file and key path it came from, so a `SourceMap` built from those origins turns any native validation or
resolution issue into `seed-file:line:col: seed.key.path: message`.

Semantics taken from the framework (its README and `framework/` services):
- `SMP_*` placeholders are whole parts of a value, split on `/` for `s3://` URIs and on `.` otherwise.
- Several files merge: `conf.models.<model>` sections are combined, `conf.sagemakerPipeline` is taken from the
  one file that has it.
- `source_directory` is relative to the project root the framework runs from, not to the conf file.
- Processing inputs live at /opt/ml/processing/input/<sourceName> (data files) and
  /opt/ml/processing/input/<source step>-input-<channel> (chained); its outputs are its channel names.
- Training channels are the `channels` keys (data files) and `<source step>-<channel>` (chained).
- Metrics (evaluate) inputs are <sourceName> and `<source step>-<channel>`; the report is
  /opt/ml/processing/output/model_evaluation_metrics.json.
- CreateModel, Transform, Metrics and RegisterModel use the latest Training / CreateModel / Transform / Metrics
  step listed before them in the same model.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from smflow.spec.errors import Path_, SpecError, SpecIssue, format_key_path
from smflow.spec.load import LoadedYaml, SourceMap, load_yaml_file
from smflow.spec.model import PipelineSpec
from smflow.spec.paths import path_problem, probe, resolved
from smflow.spec.resolve import PipelineDocument, resolve
from smflow.spec.validate import validate_model

__all__ = ["STEP_CLASSES", "load_seed_documents", "seed_files", "to_native_yaml"]

STEP_CLASSES = {
    "Processing": "processing",
    "Training": "training",
    "CreateModel": "create_model",
    "Transform": "transform",
    "Metrics": "evaluation",
    "RegisterModel": "register",
}
CHAINABLE = ("Processing", "Training", "Transform")  # the framework's get_chain_input_file accepts only these

# The framework's own defaults, which differ from smflow's: kept so a converted pipeline runs on the same machines.
SEED_INSTANCE_TYPE = "ml.m5.2xlarge"
SEED_VOLUME_GB = 32
SEED_EVALUATE_VOLUME_GB = 50
SEED_MAX_RUNTIME = 3000
SEED_EVALUATE_MAX_RUNTIME = 3600
SEED_REPORT = "model_evaluation_metrics.json"
PROCESSING_INPUT_DIR = "/opt/ml/processing/input"
PROCESSING_OUTPUT_DIR = "/opt/ml/processing/output"
MANIFEST_THRESHOLD = 7  # from this many data files on, the framework builds a manifest input instead
FRAMEWORK_CONF = ("framework", "conf", "conf.yaml")


@dataclass(frozen=True)
class _At:
    """A place in one seed file: that file's source map and a key path inside it."""

    source: SourceMap
    path: Path_

    def __truediv__(self, key: str | int) -> _At:
        return _At(self.source, (*self.path, key))


@dataclass
class _Section:
    """One entry of `conf.models.<model>` (`preprocess`, `train`, `registry`, `source_directory`, …)."""

    data: Any
    at: _At

    def get(self, key: str) -> Any:
        return self.data.get(key) if isinstance(self.data, dict) else None

    def has(self, key: str) -> bool:
        return isinstance(self.data, dict) and self.data.get(key) is not None


@dataclass
class _Step:
    """One entry of `sagemakerPipeline.models.<model>.steps` and the model section it reads."""

    name: str
    cls: str
    model: str
    config: dict[str, Any]
    at: _At
    section: str


@dataclass
class _Native:
    """A native step under construction; `origin` records the seed place behind each key it gets."""

    path: Path_
    origin: dict[Path_, _At]
    data: dict[str, Any] = field(default_factory=dict)

    def put(self, key: str, value: Any, at: _At) -> None:
        self.data[key] = value
        self.origin[(*self.path, key)] = at


@dataclass
class _Channel:
    name: str
    body: Any
    at: _At


class _Translator:
    """Merges the loaded seed files and writes native spec data, collecting every positioned issue."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.issues: list[SpecIssue] = []
        self.origin: dict[Path_, _At] = {}
        self.models: dict[str, dict[str, _Section]] = {}
        self.model_keys: dict[str, _At] = {}  # where each model is first named under conf.models
        self.pipeline: _Section | None = None
        self.main_file: Path | None = None
        self.first: _At | None = None
        self.unreadable = False  # a file without `conf:` was already reported; no follow-up "missing" errors
        self.steps: dict[str, _Step] = {}
        self.named: set[str] = set()  # every step_name, also of steps too broken to translate (no follow-up errors)
        self.units: dict[str, list[_Step]] = {}
        self.roots: dict[str, Path] = {}

    def error(self, at: _At, message: str, *, key: bool = False) -> None:
        self.issues.append(at.source.issue(at.path, message, prefer_key=key))

    # ---- reading and merging files ----------------------------------------------------------------

    def add_file(self, file: Path, loaded: LoadedYaml) -> None:
        root = _At(loaded.source, ())
        self.first = self.first or root
        data = loaded.data
        if not isinstance(data, dict) or not isinstance(data.get("conf"), dict):
            self.error(root, "a seed-framework conf has a top-level `conf:` mapping (with `models:` and, in one "
                             "of the files, `sagemakerPipeline:`)")
            self.unreadable = True
            return
        conf = self.fill(data["conf"], root / "conf")
        models = conf.get("models")
        if models is not None and not isinstance(models, dict):
            self.error(root / "conf" / "models", "`models` must map model names to their sections")
        elif models:
            self.merge_models(models, root / "conf" / "models")
        if conf.get("sagemakerPipeline") is not None:
            at = root / "conf" / "sagemakerPipeline"
            if self.pipeline is not None:
                other = self.pipeline.at.source.locate(self.pipeline.at.path, prefer_key=True)
                self.error(at, f"a second `sagemakerPipeline` section (the first is in {other[0]}:{other[1]}); the "
                               "framework keeps whichever file its glob returns last, so keep it in one file",
                           key=True)
            else:
                self.pipeline = _Section(conf["sagemakerPipeline"], at)
                self.main_file = file

    def merge_models(self, models: dict[str, Any], at: _At) -> None:
        for model, sections in models.items():
            if not isinstance(sections, dict):
                self.error(at / model, f"model '{model}' must be a mapping of sections (source_directory, "
                                       "preprocess, train, transform, evaluate, registry)")
                continue
            merged = self.models.setdefault(model, {})
            self.model_keys.setdefault(model, at / model)
            for name, value in sections.items():
                if name in merged:
                    first = merged[name].at.source.locate(merged[name].at.path, prefer_key=True)
                    self.error(at / model / name, f"`{name}` of model '{model}' is also defined in {first[0]}:"
                                                  f"{first[1]}; the framework would keep one of them depending on "
                                                  "file order, so define it once", key=True)
                    continue
                merged[name] = _Section(value, at / model / name)

    def fill(self, value: Any, at: _At) -> Any:
        """Replace `SMP_*` placeholders the way the framework's `_replace_placeholders` does."""
        if isinstance(value, dict):
            return {k: self.fill(v, at / k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v, at / i) for i, v in enumerate(value)]
        if not isinstance(value, str) or "SMP_" not in value:
            return value
        separator = "/" if value.startswith("s3://") else "."
        parts = value.split(separator)
        for index, part in enumerate(parts):
            if part.startswith("SMP_") and part[4:].replace("_", "").isalnum():
                if self.env.get(part):
                    parts[index] = self.env[part]
                else:
                    self.error(at, f"placeholder {part} is not set; export {part} (the seed framework fills "
                                   "SMP_* placeholders from the environment)")
        return separator.join(parts)

    # ---- the pipeline section -----------------------------------------------------------------------

    def translate(self) -> dict[str, Any]:
        if self.pipeline is None or not isinstance(self.pipeline.data, dict):
            if self.pipeline is not None:
                self.error(self.pipeline.at, "`sagemakerPipeline` must be a mapping (pipelineName, models, "
                                             "dependencies)")
            elif self.first is not None and not self.unreadable:
                self.error(self.first, "no `conf.sagemakerPipeline` section in any of the files; the framework "
                                       "needs it (pipelineName, models, dependencies) in one of them")
            return {}
        pipe = self.pipeline
        self.origin[()] = pipe.at
        name = pipe.get("pipelineName")
        if not isinstance(name, str) or not name:
            self.error(pipe.at / "pipelineName" if pipe.has("pipelineName") else pipe.at,
                       "`pipelineName` is required (a name for the pipeline)", key=not pipe.has("pipelineName"))
        native: dict[str, Any] = {"pipeline": name, "options": {"task_ids": "step"}}
        self.origin[("pipeline",)] = pipe.at / "pipelineName"
        self.index_steps(pipe)
        models: dict[str, Any] = {}
        for model, steps in self.units.items():
            if steps:  # a model whose every step was invalid has had its errors reported already
                models[model] = self.unit(model, steps)
        native["models"] = models
        self.origin[("models",)] = pipe.at / "models"
        native["dependencies"] = self.dependencies(pipe)
        native["defaults"] = self.defaults()
        self.origin[("defaults",)] = pipe.at
        return native

    def index_steps(self, pipe: _Section) -> None:
        models = pipe.get("models")
        at = pipe.at / "models"
        if not isinstance(models, dict) or not models:
            self.error(at if pipe.has("models") else pipe.at, "`models` must map each model name to its `steps`",
                       key=not pipe.has("models"))
            return
        for model, body in models.items():
            steps = body.get("steps") if isinstance(body, dict) else None
            if not isinstance(steps, list) or not steps:
                self.error(at / model, f"model '{model}' needs a non-empty `steps` list", key=True)
                continue
            if model not in self.models:
                self.error(at / model, f"model '{model}' has steps but no `conf.models.{model}` section in any of "
                                       f"the files (known: {', '.join(sorted(self.models)) or 'none'})", key=True)
                continue
            self.units[model] = [s for i, raw in enumerate(steps) if (s := self.step(model, raw, at / model /
                                                                                          "steps" / i))]

    def step(self, model: str, raw: Any, at: _At) -> _Step | None:
        if not isinstance(raw, dict):
            self.error(at, "a step is a mapping with step_name and step_class")
            return None
        name, cls = raw.get("step_name"), raw.get("step_class")
        if not isinstance(name, str) or not name:
            self.error(at, "this step has no `step_name`; add one (it becomes the Airflow task id)")
            return None
        if name in self.named:
            self.error(at / "step_name", f"duplicate step_name '{name}'; step names are the Airflow task ids and "
                                         "must be unique across the pipeline")
            return None
        self.named.add(name)
        if not isinstance(cls, str) or cls not in STEP_CLASSES:
            self.error(at / "step_class" if "step_class" in raw else at,
                       f"unknown step_class {cls!r}; use one of {', '.join(STEP_CLASSES)}")
            return None
        if "enable_cache" in raw and not isinstance(raw["enable_cache"], bool):
            self.error(at / "enable_cache", "enable_cache must be True or False (the framework rejects other values)")
        section = {"Training": "train", "Transform": "transform", "Metrics": "evaluate"}.get(cls, "registry")
        step_type = raw.get("step_type")
        if cls == "Processing":
            if not isinstance(step_type, str) or not step_type:
                self.error(at, "a Processing step needs `step_type`: the `conf.models.<model>` section it runs "
                               "(e.g. preprocess)")
                return None
            section = step_type
        elif cls == "Training" and isinstance(step_type, str) and step_type:
            section = step_type
        step = _Step(name, cls, model, raw, at, section)
        self.steps.setdefault(name, step)
        return step

    def dependencies(self, pipe: _Section) -> list[str]:
        lines = pipe.get("dependencies")
        at = pipe.at / "dependencies"
        if lines is None:
            return []
        if not isinstance(lines, list):
            self.error(at, "`dependencies` is a list of lines like `a >> b >> c`")
            return []
        out: list[str] = []
        for index, line in enumerate(lines):
            names = [n.strip() for n in line.split(">>")] if isinstance(line, str) else []
            if len(names) < 2 or not all(names):
                self.error(at / index, f"{line!r} is not of the form `a >> b` (step names with ` >> ` between)")
                continue
            unknown = [n for n in names if n not in self.named]
            for name in unknown:
                self.error(at / index, f"unknown step '{name}' in dependency line; steps: "
                                       f"{', '.join(sorted(self.named)) or 'none'}")
            if all(n in self.steps for n in names):
                self.origin[("dependencies", len(out))] = at / index
                out.append(" >> ".join(f"{self.steps[n].model}.{n}" for n in names))
        return out

    def defaults(self) -> dict[str, Any]:
        """The framework's defaults, plus account settings it reads from SMP_* environment variables."""
        out: dict[str, Any] = {"instance_type": SEED_INSTANCE_TYPE, "volume_size_gb": SEED_VOLUME_GB,
                               "max_runtime_seconds": SEED_MAX_RUNTIME}
        for key, var in (("role", "SMP_ROLE"), ("bucket", "SMP_S3BUCKETNAME"), ("region", "SMP_REGION")):
            if self.env.get(var):
                out[key] = self.env[var]
        return out

    # ---- model units --------------------------------------------------------------------------------

    def unit(self, model: str, steps: list[_Step]) -> dict[str, Any]:
        unit_path: Path_ = ("models", model)
        self.origin[unit_path] = self.pipeline.at / "models" / model if self.pipeline else steps[0].at
        self.origin[(*unit_path, "steps")] = _At(steps[0].at.source, steps[0].at.path[:-1])
        unit: dict[str, Any] = {"source_dir": self.source_dir(model), "steps": []}
        self.origin[(*unit_path, "source_dir")] = self.model_at(model, "source_directory")
        for step in steps:
            path = (*unit_path, "steps", len(unit["steps"]))
            native = _Native(path, self.origin)
            self.origin[path] = step.at
            native.put("name", step.name, step.at / "step_name")
            native.put("type", STEP_CLASSES[step.cls], step.at / "step_class")
            self.builders()[step.cls](step, native, steps)
            unit["steps"].append(native.data)
        return unit

    def builders(self) -> dict[str, Callable[[_Step, _Native, list[_Step]], None]]:
        """The framework's step_class → the method that writes its native step (keys: STEP_CLASSES)."""
        return {"Processing": self.build_processing, "Training": self.build_training,
                "CreateModel": self.build_create_model, "Transform": self.build_transform,
                "Metrics": self.build_evaluation, "RegisterModel": self.build_register}

    def model_at(self, model: str, section: str) -> _At:
        found = self.models[model].get(section)
        return found.at if found is not None else self.model_keys[model]

    def source_dir(self, model: str) -> str:
        """`source_directory` is relative to the project root: the nearest ancestor of the conf that has it."""
        section = self.models[model].get("source_directory")
        given = section.data if section else self.env.get("SMP_SOURCE_DIR_PATH")
        at = section.at if section else self.model_at(model, "source_directory")
        if not isinstance(given, str) or not given:
            self.error(at, f"model '{model}' has no `source_directory` (the folder with its scripts, relative to "
                           "the project root); add it, or export SMP_SOURCE_DIR_PATH", key=section is None)
            self.roots[model] = Path.cwd()
            return str(Path.cwd())
        problem = path_problem(given)
        if problem:
            self.error(at, f"source_directory {problem}")
            self.roots[model] = Path.cwd()
            return str(Path.cwd())
        conf_file = Path(at.source.file).resolve()
        for root in (Path("/"),) if Path(given).is_absolute() else conf_file.parents:
            if probe(root / given)[0] == "dir":
                self.roots[model] = root
                return str(resolved(root, given))
        self.error(at, f"directory '{given}' not found under any parent folder of {conf_file.name}; "
                       "source_directory is relative to the project root the framework runs from")
        self.roots[model] = Path.cwd()
        return str(Path.cwd() / given)

    def section(self, step: _Step, name: str, *, required: bool = True) -> _Section | None:
        found = self.models[step.model].get(name)
        if found is not None and not isinstance(found.data, dict):
            self.error(found.at, f"`{name}` must be a mapping of settings")
            return None
        if found is None and required:
            self.error(step.at / "step_class", f"{step.cls} step '{step.name}' reads `conf.models.{step.model}."
                                               f"{name}`, which no file defines")
        return found

    def latest(self, step: _Step, steps: list[_Step], cls: str, *, required: bool = True) -> _Step | None:
        """The framework pairs a step with the last step of `cls` listed before it in the same model."""
        before = steps[:steps.index(step)]
        found = next((s for s in reversed(before) if s.cls == cls), None)
        if found is None and required:
            self.error(step.at / "step_class", f"a {step.cls} step needs a {cls} step listed before it in model "
                                               f"'{step.model}' (the framework uses the latest one)")
        return found

    # ---- shared settings ------------------------------------------------------------------------------

    def common(self, native: _Native, sec: _Section, *, runtime_key: str, volume_default: int) -> None:
        for seed_key, native_key in (("instance_type", "instance_type"), ("instance_count", "instance_count"),
                                     (runtime_key, "max_runtime_seconds")):
            if sec.has(seed_key):
                native.put(native_key, sec.get(seed_key), sec.at / seed_key)
        if sec.has("image_uri"):
            native.put("image", {"uri": sec.get("image_uri")}, sec.at / "image_uri")
            native.origin[(*native.path, "image", "uri")] = sec.at / "image_uri"
        env = sec.get("env")
        if env is not None:
            value = {k: _text(v) for k, v in env.items()} if isinstance(env, dict) else env
            native.put("environment", value, sec.at / "env")
            for key in value if isinstance(value, dict) else ():
                native.origin[(*native.path, "environment", key)] = sec.at / "env" / key
        volume = sec.get("volume_size_in_gb")
        if sec.has("volume_size_in_gb") and (not isinstance(volume, int) or isinstance(volume, bool)):
            self.error(sec.at / "volume_size_in_gb", f"volume_size_in_gb must be a whole number of GB, not {volume!r}")
        elif sec.has("volume_size_in_gb"):
            native.put("volume_size_gb", volume, sec.at / "volume_size_in_gb")
        elif volume_default != SEED_VOLUME_GB:
            native.put("volume_size_gb", volume_default, sec.at)  # the framework's per-kind default

    def check_distribution(self, sec: _Section, key: str) -> None:
        value = sec.get(key)
        count = sec.get("instance_count")
        if value not in (None, "FullyReplicated") and isinstance(count, int) and count > 1:
            self.error(sec.at / key, f"{key}: {value} shards inputs across instances, which smflow does not do; "
                                     "use FullyReplicated or instance_count: 1")

    def channels(self, sec: _Section | None, *, report: bool = True) -> list[_Channel] | None:
        """`channels` as a mapping (name → dataFiles / empty), or one bare channel name; None when absent."""
        raw = sec.get("channels") if sec else None
        if raw is None or sec is None:
            return None
        at = sec.at / "channels"
        if isinstance(raw, str):
            return [_Channel(raw, None, at)]
        if isinstance(raw, dict):
            return [_Channel(str(name), body, at / name) for name, body in raw.items()]
        if report:
            self.error(at, "`channels` must map channel names to their dataFiles (or be one channel name)")
        return None

    def first_file(self, channel: _Channel) -> tuple[str, str | None, _At] | None:
        """(fileName, sourceName, place) of the channel's first data file: the framework reads only that one."""
        files = channel.body.get("dataFiles") if isinstance(channel.body, dict) else None
        if files is None or files == []:
            return None
        at = channel.at / "dataFiles"
        first = files[0] if isinstance(files, list) else None
        if not isinstance(first, dict) or not isinstance(first.get("fileName"), str):
            self.error(at / 0 if isinstance(files, list) else at,
                       "dataFiles is a list of `{sourceName: …, fileName: …}` entries with a fileName")
            return None
        source_name = first.get("sourceName")
        return first["fileName"], source_name if isinstance(source_name, str) else None, at / 0

    def location(self, model: str, file_name: str, bucket: Any, *prefixes: Any) -> str:
        """An S3 URI as given; else under the channel's bucket; else a local file under the project root."""
        if file_name.startswith("s3://"):
            return file_name
        if isinstance(bucket, str) and bucket:
            parts = [bucket.removeprefix("s3://").strip("/"), *(str(p).strip("/") for p in prefixes if p),
                     file_name.lstrip("/")]
            return "s3://" + "/".join(parts)
        root = self.roots.get(model, Path.cwd())
        # A name no file system accepts stays as written: the resolver reports it at this input's position.
        return file_name if path_problem(file_name) else str(resolved(root, file_name))

    def add_input(self, native: _Native, name: str, value: Any, at: _At) -> None:
        inputs = native.data.setdefault("inputs", {})
        native.origin.setdefault((*native.path, "inputs"), at)
        if name in inputs:
            self.error(at, f"a second input named '{name}' in step '{native.data['name']}'; the container mounts "
                           "each input at its own name, so rename one")
            return
        inputs[name] = value
        native.origin[(*native.path, "inputs", name)] = at

    def sources(self, step: _Step) -> list[tuple[_Step, _At]]:
        raw = step.config.get("chain_input_source_step")
        at = step.at / "chain_input_source_step"
        if raw is None:
            return []
        names = [raw] if isinstance(raw, str) else raw
        if not isinstance(names, list):
            self.error(at, "chain_input_source_step is a list of step names")
            return []
        out = []
        for index, name in enumerate(names):
            source = self.steps.get(name) if isinstance(name, str) else None
            if source is None and isinstance(name, str) and name in self.named:
                continue  # that step has its own error
            if source is None:
                self.error(at / index, f"unknown step {name!r} in chain_input_source_step; steps: "
                                       f"{', '.join(sorted(self.named))}")
            elif source.cls not in CHAINABLE:
                self.error(at / index, f"'{name}' is a {source.cls} step; only {', '.join(CHAINABLE)} steps have "
                                       "outputs to chain from")
            else:
                out.append((source, at / index))
        return out

    def reference(self, step: _Step, source: _Step, channel: str) -> str:
        """`step.output` for the source's output the framework picks: a channel, the model, or predictions."""
        output = {"Training": "model", "Transform": "predictions"}.get(source.cls, channel)
        prefix = source.name if source.model == step.model else f"{source.model}.{source.name}"
        return f"{prefix}.{output}"

    def source_channels(self, source: _Step) -> list[str]:
        """Channel names of the source step's own section (the framework's default: `train`)."""
        sec = self.models.get(source.model, {}).get(source.section)
        found = self.channels(sec, report=False) if sec and isinstance(sec.data, dict) else None
        return [c.name for c in found] if found else ["train"]

    # ---- one builder per step class -----------------------------------------------------------------

    def build_processing(self, step: _Step, native: _Native, steps: list[_Step]) -> None:
        sec = self.section(step, step.section)
        if sec is None:
            return
        self.entry_point(step, sec, native)
        self.common(native, sec, runtime_key="max_runtime_seconds", volume_default=SEED_VOLUME_GB)
        if not sec.has("image_uri") and sec.get("framework_version") not in (None, "0", 0):
            native.put("image", {"framework": "sklearn", "version": str(sec.get("framework_version"))},
                       sec.at / "framework_version")
        self.check_distribution(sec, "s3_data_distribution_type")
        self.check_local_path(sec, ("location", "outputLocalFilepath"), PROCESSING_OUTPUT_DIR)
        channels = self.channels(sec) or []
        native.put("outputs", [c.name for c in channels] or ["train"], sec.at / "channels" if channels else sec.at)
        files = [(c, found) for c in channels if (found := self.first_file(c))]
        if len(files) >= MANIFEST_THRESHOLD:
            self.error(sec.at / "channels", f"{len(files)} data files: from {MANIFEST_THRESHOLD} on the framework "
                                            "turns them into one manifest input, which smflow does not reproduce; "
                                            "point fewer channels at S3 prefixes instead")
        for _, (file_name, source_name, at) in files:
            if source_name is None:
                self.error(at, "give this data file a `sourceName`: it is mounted at "
                               f"{PROCESSING_INPUT_DIR}/<sourceName>")
                continue
            bucket = self.channel_setting(sec, "train", "s3Bucket")
            prefix = self.channel_setting(sec, "train", "s3InputPrefix")
            self.add_input(native, source_name, self.location(step.model, file_name, bucket, prefix), at)
        for source, at in self.sources(step):
            for channel_name in self.source_channels(source):
                self.add_input(native, f"{source.name}-input-{channel_name}",
                               self.reference(step, source, channel_name), at)

    def build_training(self, step: _Step, native: _Native, steps: list[_Step]) -> None:
        sec = self.section(step, step.section)
        if sec is None:
            return
        self.entry_point(step, sec, native)
        self.common(native, sec, runtime_key="max_runtime_seconds", volume_default=SEED_VOLUME_GB)
        if sec.has("hyperparams"):
            native.put("hyperparameters", sec.get("hyperparams"), sec.at / "hyperparams")
        mode = sec.get("input_mode")
        if mode == "Pipe":
            self.error(sec.at / "input_mode", "input_mode Pipe has no smflow equivalent; use File or FastFile")
        elif mode is not None:
            native.put("input_mode", mode, sec.at / "input_mode")
        self.check_distribution(sec, "distribution")
        content_type = sec.get("content_type")
        if content_type is not None and not isinstance(content_type, str):
            self.error(sec.at / "content_type", f"content_type must be a MIME type string like text/csv, not "
                                                f"{content_type!r}")

        def channel_input(uri: str) -> Any:
            return {"source": uri, "content_type": content_type} if isinstance(content_type, str) else uri

        for channel in self.channels(sec) or []:
            found = self.first_file(channel)
            if found:
                bucket = self.channel_setting(sec, "train", "s3Bucket")
                prefix = self.channel_setting(sec, "train", "s3InputPrefix")
                uri = self.location(step.model, found[0], bucket, prefix, "data", channel.name)
                self.add_input(native, channel.name, channel_input(uri), found[2])
        if sec.has("model_data_uri"):  # the SDK's model_uri: a `model` channel with earlier model artifacts
            self.add_input(native, "model", sec.get("model_data_uri"), sec.at / "model_data_uri")
        for source, at in self.sources(step):
            for channel_name in self.source_channels(source):
                self.add_input(native, f"{source.name}-{channel_name}",
                               channel_input(self.reference(step, source, channel_name)), at)

    def build_create_model(self, step: _Step, native: _Native, steps: list[_Step]) -> None:
        train = self.latest(step, steps, "Training")
        if train is not None:
            native.put("model", train.name, step.at / "step_class")
        self.serving(step, native)

    def serving(self, step: _Step, native: _Native) -> None:
        """CreateModel and RegisterModel serve with the registry image and the transform section's script."""
        registry = self.models[step.model].get("registry")
        spec = registry.get("InferenceSpecification") if registry else None
        if isinstance(spec, dict) and spec.get("image_uri") is not None and registry is not None:
            at = registry.at / "InferenceSpecification" / "image_uri"
            native.put("image", {"uri": spec["image_uri"]}, at)
            native.origin[(*native.path, "image", "uri")] = at
        transform = self.models[step.model].get("transform")
        if transform is not None and transform.has("entry_point"):
            native.put("entry_point", transform.get("entry_point"), transform.at / "entry_point")

    def build_transform(self, step: _Step, native: _Native, steps: list[_Step]) -> None:
        create = self.latest(step, steps, "CreateModel")
        if create is not None:
            native.put("model", create.name, step.at / "step_class")
        sec = self.section(step, "transform")
        if sec is None:
            return
        channels = self.channels(sec)
        if channels is not None and len(channels) != 1:
            self.error(sec.at / "channels", f"a Transform step reads exactly one channel; found {len(channels)}")
            return
        channel = channels[0] if channels else _Channel("train", None, sec.at)
        sources = self.sources(step)
        if len(sources) > 1:
            self.error(step.at / "chain_input_source_step", "a Transform step chains from at most one step")
        elif sources:
            source, at = sources[0]
            reference = self.reference(step, source, channel.name)
            prefix = step.config.get("chain_input_additional_prefix")
            value: Any = {"source": reference, "prefix": prefix} if isinstance(prefix, str) and prefix else reference
            native.put("input", value, at)
            if isinstance(prefix, str) and prefix:
                native.origin[(*native.path, "input", "prefix")] = step.at / "chain_input_additional_prefix"
        else:
            self.transform_file(step, sec, channel, native)
        self.transform_settings(sec, native)

    def transform_file(self, step: _Step, sec: _Section, channel: _Channel, native: _Native) -> None:
        files = channel.body.get("dataFiles") if isinstance(channel.body, dict) else None
        if isinstance(files, list) and len(files) > 1:
            self.error(channel.at / "dataFiles", f"a Transform step reads one data file; found {len(files)}")
            return
        found = self.first_file(channel)
        if found is None:
            self.error(channel.at, "a Transform step needs an input: one entry under dataFiles, or "
                                   "chain_input_source_step on the step")
            return
        body = channel.body if isinstance(channel.body, dict) else {}
        uri = self.location(step.model, found[0], body.get("s3BucketName"), body.get("inputBucketPrefix"))
        native.put("input", uri, found[2] / "fileName")

    def transform_settings(self, sec: _Section, native: _Native) -> None:
        """Transformer arguments; the framework leaves split and assembly unset (SageMaker's None), not Line."""
        for seed_key, native_key in (("instance_type", "instance_type"), ("instance_count", "instance_count"),
                                     ("strategy", "batch_strategy"), ("max_payload", "max_payload_mb"),
                                     ("input_filter", "input_filter"), ("output_filter", "output_filter"),
                                     ("join_source", "join_source")):
            if sec.has(seed_key):
                native.put(native_key, sec.get(seed_key), sec.at / seed_key)
        native.put("split_type", sec.get("split_type") or "None", sec.at / "split_type")
        native.put("assemble_with", sec.get("assemble_with") or "None", sec.at / "assemble_with")
        if sec.has("content_type"):
            native.put("content_type", sec.get("content_type"), sec.at / "content_type")
            native.put("accept", sec.get("content_type"), sec.at / "content_type")  # the framework's accept
        else:  # the framework's defaults, written out: a native transform leaves absent fields unset
            native.put("content_type", "text/csv", sec.at)
            native.put("accept", "text/csv", sec.at)
        env = sec.get("env")
        if env is not None:
            native.put("environment", {k: _text(v) for k, v in env.items()} if isinstance(env, dict) else env,
                       sec.at / "env")

    def build_evaluation(self, step: _Step, native: _Native, steps: list[_Step]) -> None:
        self.latest(step, steps, "Transform")
        sec = self.section(step, "evaluate")
        if sec is None:
            return
        self.entry_point(step, sec, native)
        self.common(native, sec, runtime_key="max_runtime_in_seconds", volume_default=SEED_EVALUATE_VOLUME_GB)
        if not sec.has("max_runtime_in_seconds"):
            native.put("max_runtime_seconds", SEED_EVALUATE_MAX_RUNTIME, sec.at)
        native.put("report", SEED_REPORT, sec.at)
        channels = self.channels(sec)
        if channels is not None and len(channels) != 1:
            self.error(sec.at / "channels", f"a Metrics step reads exactly one channel; found {len(channels)}")
            return
        channel = channels[0] if channels else _Channel("train", None, sec.at)
        if isinstance(channel.body, dict):
            self.check_local_path(sec, ("channels", channel.name, "InputLocalFilepath"), PROCESSING_INPUT_DIR)
            self.check_local_path(sec, ("channels", channel.name, "OuputLocalFilepath"), PROCESSING_OUTPUT_DIR)
        found = self.first_file(channel)
        if found is not None:
            file_name, source_name, at = found
            if source_name is None:
                self.error(at, f"give this data file a `sourceName`: it is mounted at {PROCESSING_INPUT_DIR}/"
                               "<sourceName>")
            else:
                bucket = self.channel_setting(sec, "train", "s3Bucket")
                prefix = self.channel_setting(sec, "train", "s3InputPrefix")
                self.add_input(native, source_name, self.location(step.model, file_name, bucket, prefix), at)
        for source, at in self.sources(step):
            self.add_input(native, f"{source.name}-{channel.name}", self.reference(step, source, channel.name), at)

    def build_register(self, step: _Step, native: _Native, steps: list[_Step]) -> None:
        train = self.latest(step, steps, "Training")
        if train is not None:
            native.put("model", train.name, step.at / "step_class")
        metrics = self.latest(step, steps, "Metrics", required=False)
        if metrics is not None:
            native.put("report", metrics.name, step.at / "step_class")
        registry = self.section(step, "registry")
        if registry is None:
            return
        spec = registry.get("InferenceSpecification")
        at = registry.at / "InferenceSpecification"
        if not isinstance(spec, dict):
            given = registry.has("InferenceSpecification")
            self.error(at if given else registry.at, "RegisterModel needs `InferenceSpecification` (image_uri, "
                       "supported_content_types, supported_response_MIME_types, approval_status)", key=not given)
            return
        for seed_key, native_key in (("approval_status", "approval"), ("supported_content_types", "content_types"),
                                     ("supported_response_MIME_types", "response_types")):
            if spec.get(seed_key) is not None:
                native.put(native_key, spec[seed_key], at / seed_key)
        self.serving(step, native)

    # ---- small checks ---------------------------------------------------------------------------------

    def entry_point(self, step: _Step, sec: _Section, native: _Native) -> None:
        if sec.has("entry_point"):
            native.put("entry_point", sec.get("entry_point"), sec.at / "entry_point")
        else:
            self.error(sec.at, f"`conf.models.{step.model}.{step.section}` needs `entry_point` (the script to run, "
                               "relative to source_directory)", key=True)

    def channel_setting(self, sec: _Section, channel: str, key: str) -> Any:
        channels = sec.get("channels")
        body = channels.get(channel) if isinstance(channels, dict) else None
        return body.get(key) if isinstance(body, dict) else None

    def check_local_path(self, sec: _Section, keys: tuple[str, ...], expected: str) -> None:
        value: Any = sec.data
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and str(value).rstrip("/") != expected:
            at = sec.at
            for key in keys:
                at = at / key
            self.error(at, f"{keys[-1]} {value!r} moves a container folder smflow keeps at {expected}; remove it "
                           "and have the script use that folder")

    # ---- the native document --------------------------------------------------------------------------

    def source_map(self, main_file: str) -> SourceMap:
        """Native key paths → positions in the seed files they came from."""
        source = SourceMap(main_file)
        for path, at in self.origin.items():
            file, line, col = at.source.locate(at.path)
            source.values[path] = (line, col)
            source.files[path] = file
            if at.path in at.source.keys:
                source.keys[path] = at.source.keys[at.path]
        return source

    def relabel(self, issue: SpecIssue) -> SpecIssue:
        """Say the seed key path (not the native one) in an issue from native validation or resolution."""
        best: Path_ | None = None
        best_label = ""
        for path in self.origin:
            label = format_key_path(path)
            if (issue.key_path == label or issue.key_path.startswith((label + ".", label + "["))) and \
                    len(label) > len(best_label):
                best, best_label = path, label
        if best is None:
            return issue
        return SpecIssue(issue.file, issue.line, issue.col, format_key_path(self.origin[best].path), issue.message)


def _text(value: Any) -> Any:
    """Environment values are strings for SageMaker; YAML may have typed `1` or `true`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int | float) else value


def _is_framework_conf(path: Path) -> bool:
    """The framework's own `framework/conf/conf.yaml` matches `*/conf/conf.yaml` too; it skips that file."""
    return path.resolve().parts[-3:] == FRAMEWORK_CONF


def seed_files(pattern: str) -> list[Path]:
    """The seed confs a `SMP_MODEL_CONFIGPATH`-style glob names (relative to the working directory), sorted."""
    found = sorted(Path(p) for p in glob.glob(pattern, recursive=True))
    files = [p for p in found if p.is_file() and not _is_framework_conf(p)]
    if not files:
        raise SpecError([SpecIssue(pattern, 1, 1, "<glob>", f"no seed-framework conf files match '{pattern}' "
                                                            f"(relative to {Path.cwd()}); the framework's "
                                                            "SMP_MODEL_CONFIGPATH is a glob like */conf/conf.yaml")])
    return files


def load_seed_documents(files: Sequence[Path], env: Mapping[str, str] | None = None) -> PipelineDocument:
    """Merge seed-framework conf files into one validated native `PipelineDocument` (task ids = step names).

    Raises `SpecError` with every issue, each positioned in the seed file and key path the user has to edit.
    """
    environment: Mapping[str, str] = os.environ if env is None else env
    paths = [Path(f) for f in files if not _is_framework_conf(Path(f))]
    if not paths:
        raise SpecError([SpecIssue("<seed>", 1, 1, "<files>", "no seed-framework conf files given")])
    translator = _Translator(environment)
    loaded: list[Path] = []
    for path in paths:
        try:
            document = load_yaml_file(path, environment)
        except SpecError as e:
            translator.issues.extend(e.issues)
            translator.unreadable = True
            continue
        loaded.append(path)
        translator.add_file(path, document)
    native = translator.translate()
    if translator.issues:
        raise SpecError(translator.issues)
    main = translator.main_file or loaded[0]
    source = translator.source_map(str(main))
    try:
        spec = validate_model(LoadedYaml(native, source), PipelineSpec)
        doc = resolve(spec, source, main)
    except SpecError as e:
        raise SpecError(translator.relabel(issue) for issue in e.issues) from None
    doc.sources = list(loaded)
    return doc


def _relative(value: str, base: Path | None, *, keep_dot: bool) -> str:
    if base is None or not value.startswith("/"):
        return value
    rel = os.path.relpath(value, base)
    return rel if keep_dot or "/" in rel else f"./{rel}"  # a bare `x.csv` would read as a step reference


def to_native_yaml(doc: PipelineDocument, relative_to: Path | None = None) -> str:
    """The native YAML equivalent of a seed document, for `smflow convert`.

    Folders and local files are absolute unless `relative_to` (the folder the YAML will be saved in) is given;
    either way, loading the result gives the same task ids and edges.
    """
    dumped = doc.spec.model_dump(mode="json", exclude_unset=True)
    data = _ordered(dumped, ("pipeline", "description", "options", "defaults", "schedule", "models"))
    base = relative_to.resolve() if relative_to is not None else None
    for unit in data["models"].values():
        unit["source_dir"] = _relative(unit["source_dir"], base, keep_dot=True)
        unit["steps"] = [_ordered(step, ("name", "type")) for step in unit["steps"]]
        for step in unit["steps"]:
            for name, value in step.get("inputs", {}).items():
                step["inputs"][name] = _relocated(value, base)
            if "input" in step:
                step["input"] = _relocated(step["input"], base)
    sources = doc.sources or [doc.file]
    header = ["# Native smflow pipeline converted by `smflow convert` from seed-framework confs:"]
    header += [f"#   {_relative(str(Path(s).resolve()), base, keep_dot=True)}" for s in sources]
    header.append("# Task ids are the seed step names (options.task_ids: step).")
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=4096, default_flow_style=False)
    return "\n".join(header) + "\n" + body


def _ordered(data: dict[str, Any], first: tuple[str, ...]) -> dict[str, Any]:
    """Readable key order: the keys a reader looks for first, then the rest as pydantic dumped them."""
    return {**{k: data[k] for k in first if k in data}, **{k: v for k, v in data.items() if k not in first}}


def _relocated(value: Any, base: Path | None) -> Any:
    if isinstance(value, str):
        return _relative(value, base, keep_dot=False)
    if isinstance(value, dict) and isinstance(value.get("source"), str):
        return {**value, "source": _relative(value["source"], base, keep_dot=False)}
    return value
