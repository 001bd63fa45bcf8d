"""`smflow` command line: validate, compile, schema, convert, run, predictions, registry.

Exit codes: 0 success, 1 user error (with `file:line:col: key.path: message` lines, or one line saying what
is wrong and what to do), 2 usage error, 3 internal error (a bug: the traceback goes to a log file whose path
is printed, or to stderr with --verbose).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smflow.errors import UsageError, UserError
from smflow.spec.errors import SpecError, SpecIssue

EXIT_OK, EXIT_USER, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _sources(paths: Sequence[str]) -> list[tuple[str, list[Path], bool]]:
    """Each argument → (label, files, seed?): a file, a directory of pipelines, or a seed-conf glob."""
    from smflow.spec.discovery import discover

    out: list[tuple[str, list[Path], bool]] = []
    for arg in paths:
        path = Path(arg)
        if any(ch in arg for ch in "*?["):
            files = sorted(Path(p) for p in glob.glob(arg, recursive=True))
            out.append((arg, files, True))
        elif path.is_dir():
            found = discover(path)
            if not found:
                out.append((arg, [], False))
            out.extend((s.label, list(s.files), s.seed) for s in found)
        else:
            out.append((arg, [path], False))
    return out


def _load(label: str, files: list[Path], seed: bool) -> Any:
    from smflow.spec import load_pipeline

    if not files:
        raise SpecError([SpecIssue(label, 1, 1, "<file>", "no pipeline spec found here (pipeline.yaml, "
                                                          "*.pipeline.yaml or */conf/conf.yaml)")])
    if seed:
        from smflow.spec.seedconf import load_seed_documents

        return load_seed_documents(files)
    if not files[0].is_file():
        raise SpecError([SpecIssue(label, 1, 1, "<file>", "no such file; check the path")])
    return load_pipeline(files[0])


def cmd_validate(args: argparse.Namespace) -> int:
    """Errors on stdout (exit 1); warnings — valid, but the local run will differ — on stderr (exit 0)."""
    from smflow.compile.graph import compile_pipeline
    from smflow.compile.image_environments import environment_warnings
    from smflow.spec.algorithm_advice import algorithm_warnings
    from smflow.spec.training_advice import training_warnings

    failed = False
    for label, files, seed in _sources(args.paths):
        try:
            doc = _load(label, files, seed)
            compiled = compile_pipeline(doc)
        except SpecError as e:
            failed = True
            for issue in e.issues:
                print(issue)
            continue
        for warning in [*environment_warnings(doc, compiled), *training_warnings(doc), *algorithm_warnings(doc)]:
            print(warning, file=sys.stderr)
        print(f"ok: {label}: pipeline {doc.spec.pipeline}, {len(doc.nodes)} steps, {len(doc.edges)} edges")
    return 1 if failed else 0


def cmd_compile(args: argparse.Namespace) -> int:
    from smflow.compile.graph import compile_pipeline

    pipelines = []
    failed = False
    for label, files, seed in _sources(args.paths):
        try:
            compiled = compile_pipeline(_load(label, files, seed))
        except SpecError as e:
            failed = True
            for issue in e.issues:
                print(issue, file=sys.stderr)
            continue
        pipelines.append(compiled.as_json())
    if failed:
        return 1
    if args.json:
        print(json.dumps({"pipelines": pipelines}, indent=2 if args.pretty else None))
    else:
        for pipeline in pipelines:
            for dag in pipeline["dags"]:
                print(f"{dag['dag_id']}  schedule={dag['schedule']!r}")
                for task in dag["tasks"]:
                    print(f"  {task['task_id']:<32} {task['kind']:<13} {task['operation'] or '-'}")
                for a, b in dag["edges"]:
                    print(f"  {a} >> {b}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    from smflow import settings

    rows = [{"setting": s.name, "env": s.env, "value": settings.get(s.name), "from": settings.source(s.name),
             "description": s.description} for s in settings.SETTINGS.values()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        print(f"{row['env']:<28} {row['value'] or '(unset)':<24} {row['from']:<22} {row['description']}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from smflow.spec.schema import pipeline_json_schema

    print(json.dumps(pipeline_json_schema(), indent=2))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from smflow.atomic_files import write_text_atomic
    from smflow.spec.seedconf import load_seed_documents, seed_files, to_native_yaml

    output = Path(args.output)
    if args.output != "-":
        if output.is_dir() or args.output.endswith(("/", "\\")):
            raise UsageError(f"-o {args.output} is a directory; give the file to write, e.g. "
                             f"-o {output / 'pipeline.yaml'}")
        if output.parent.exists() and not output.parent.is_dir():
            raise UsageError(f"-o {args.output}: {output.parent} is a file, not a folder")
    try:
        doc = load_seed_documents(seed_files(args.pattern))
    except SpecError as e:
        for issue in e.issues:
            print(issue, file=sys.stderr)
        return EXIT_USER
    target_dir = Path.cwd() if args.output == "-" else output.resolve().parent
    text = to_native_yaml(doc, relative_to=target_dir)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        write_text_atomic(output, text)
        print(f"wrote {args.output} (pipeline {doc.spec.pipeline}, {len(doc.nodes)} steps)")
    return EXIT_OK


def parse_conf(text: str | None) -> dict[str, Any] | None:
    """`--conf` → the DAG run conf: a JSON object (Airflow's `dag_run.conf` is a mapping)."""
    if text is None:
        return None
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"--conf is not valid JSON ({e}); give a JSON object like '{{\"key\": \"value\"}}'") from None
    if not isinstance(conf, dict):
        raise UsageError(f"--conf must be a JSON object like '{{\"key\": \"value\"}}', not a JSON "
                         f"{_json_kind(conf)}")
    return conf


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(value), "number")


def parse_logical_date(text: str | None) -> datetime | None:
    """`--logical-date` → an aware datetime (UTC when no offset is given); an empty value is an error."""
    if text is None:
        return None
    example = "e.g. 2026-11-23T03:00:00+00:00"
    if not text.strip():
        raise UsageError(f"--logical-date is empty; give an ISO date-time ({example}) or leave the option out")
    try:
        logical_date = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--logical-date {text!r} is not an ISO date-time ({example})") from None
    if logical_date.tzinfo is None:
        logical_date = logical_date.replace(tzinfo=UTC)
    try:
        logical_date = logical_date.astimezone(UTC)
    except OverflowError:
        raise UsageError(f"--logical-date {text!r} is out of range ({example})") from None
    if not MIN_LOGICAL_YEAR <= logical_date.year <= MAX_LOGICAL_YEAR:
        raise UsageError(f"--logical-date {text!r} is out of range: Airflow schedules between the years "
                         f"{MIN_LOGICAL_YEAR} and {MAX_LOGICAL_YEAR} ({example})")
    return logical_date


# Airflow stores dates as UTC timestamps and computes data intervals around them; years near the ends of
# Python's datetime range overflow there. Runs before 1970 would precede any real start_date anyway.
MIN_LOGICAL_YEAR, MAX_LOGICAL_YEAR = 1970, 9000


def cmd_run(args: argparse.Namespace) -> int:
    from smflow.dags.runner import format_summary, run_pipeline_dag

    conf = parse_conf(args.conf)
    if args.input is not None:
        if args.dag != "batch":
            raise UsageError(f"--input names the data a batch run predicts; it applies to --dag batch, not --dag "
                             f"{args.dag}")
        conf = {**(conf or {}), "input": args.input}
    logical_date = parse_logical_date(args.logical_date)
    try:
        summary = run_pipeline_dag(Path(args.path), args.dag, args.executor, conf, logical_date, args.verbose)
    except SpecError as e:
        for issue in e.issues:
            print(issue, file=sys.stderr)
        return EXIT_USER
    print()
    print(format_summary(summary))
    return EXIT_OK if summary.ok else EXIT_USER


def cmd_registry(args: argparse.Namespace) -> int:
    """Through the executor protocol: the local registry (SQLite in the smflow home) or AWS's."""
    from smflow import settings
    from smflow.executors import make_executor

    executor_name = args.executor or settings.get("executor")
    if executor_name == "local":
        settings.checked_home(create=False)
        path = settings.registry_path()
        if not path.exists():  # reading must not create the home or an empty registry
            if args.action == "list":
                if args.json:
                    print("[]")
                else:
                    print(f"no model registry yet ({path} does not exist); a pipeline's register step creates it")
                return EXIT_OK
            raise UserError(f"no model registry at {path}: nothing has been registered with this SMFLOW_HOME yet "
                            "(check SMFLOW_HOME, or run a pipeline with a register step first)")
    try:
        registry = make_executor(executor_name).model_registry()
    except ValueError as e:
        raise UserError(str(e)) from None
    try:
        if args.action == "list":
            rows = registry.list_versions(args.group)
            if args.json:
                print(json.dumps(rows, indent=2, default=str))
                return EXIT_OK
            if not rows:
                print("no model package versions registered" + (f" in {args.group}" if args.group else ""))
            for row in rows:
                run = row.get("metadata", {}).get("smflow:run_id", "")
                print(f"{row['group']:<28} v{row['version']:<4} {row['status']:<22} {row['created'][:19]}  {run}")
            return EXIT_OK
        status = "Approved" if args.action == "approve" else "Rejected"
        row = registry.set_status(args.group, args.version, status, args.note)
        print(f"{row['arn']}: {row['status']}")
        return EXIT_OK
    except (ValueError, LookupError) as e:
        raise UserError(str(e)) from None
    except Exception as e:  # botocore ClientError for unknown names carries a clear message
        if type(e).__name__ == "ClientError":
            raise UserError(str(e)) from None
        raise


def cmd_predictions(args: argparse.Namespace) -> int:
    """The batches a pipeline's batch DAG predicted, from their manifests; reading never creates the home."""
    from collections.abc import Callable

    from smflow import settings
    from smflow.batch.report import format_rows, prediction_rows
    from smflow.compile.batch import unit_output
    from smflow.spec import load_pipeline

    path = Path(args.path)
    if not path.is_file():
        raise UserError(f"{path}: no such pipeline file; give the YAML of a pipeline with a `batch:` section")
    spec = load_pipeline(path).spec  # the spec alone names the outputs: nothing is compiled or cached
    outputs = {name: unit_output(spec, name, unit.batch) for name, unit in spec.models.items() if unit.batch}
    if not outputs:
        raise UserError(f"{path}: pipeline {spec.pipeline} has no `batch:` section, so nothing is predicted in "
                        "batches; add one to a model unit (see README, Batch prediction)")
    executor_name = args.executor or settings.get("executor")
    list_uris: Callable[[str], list[str]]
    read: Callable[[str], bytes]
    if executor_name == "local":
        from smflow.local_sagemaker.store import LocalStore

        settings.checked_home(create=False)
        store = LocalStore(settings.store_root())
        list_uris, read = store.list, store.read_bytes
    else:
        from smflow.executors import make_executor

        executor = make_executor(executor_name)
        list_uris, read = (lambda prefix: [uri for uri, _ in executor.list_objects(prefix)]), executor.read_bytes
    rows = []
    for unit, output in outputs.items():
        rows += prediction_rows(unit, list_uris(output), read)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
    elif not rows:
        print(f"no predictions yet for {spec.pipeline} (run `smflow run {path} --dag batch`)")
    else:
        print("\n".join(format_rows(rows)))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smflow", description="YAML ML pipelines → Airflow DAGs on SageMaker",
                                     epilog="exit codes: 0 ok, 1 user error, 2 usage error, 3 internal error")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true",
                        help="more output; on an internal error, the traceback on stderr")

    p = sub.add_parser("validate", parents=[common], help="check pipeline specs; one file:line:col line per error")
    p.add_argument("paths", nargs="+", help="pipeline YAML files, directories, or seed-conf globs")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("compile", parents=[common], help="print the SageMaker requests and DAG structure")
    p.add_argument("paths", nargs="+")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("settings", parents=[common], help="every smflow setting, its value in force and its source")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_settings)

    p = sub.add_parser("schema", parents=[common], help="JSON Schema of the native pipeline spec (for editors)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("convert", parents=[common], help="seed-framework confs → one native pipeline YAML")
    p.add_argument("pattern", help="glob of conf files, e.g. 'examples/*/conf/conf.yaml'")
    p.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("run", help="run one DAG of a pipeline through Airflow (dag.test) and print a summary")
    p.add_argument("path")
    p.add_argument("--dag", default="train", choices=["train", "batch", "monitor"])
    p.add_argument("--executor", default="local", choices=["local", "sagemaker"])
    p.add_argument("--conf", help="DAG run conf as JSON")
    p.add_argument("--logical-date", help="ISO date-time; the same value re-runs that run (same job names)")
    p.add_argument("--input", help="--dag batch: predict only the batches under this s3:// prefix or object "
                                   "(inside a unit's batch.input); passed as the run conf's `input`")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="Airflow's own INFO logs too; on an internal error, the traceback on stderr")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("predictions", parents=[common], help="the batches a pipeline's batch DAG predicted: model "
                                                             "version, transform job, record counts")
    p.add_argument("path", help="the pipeline YAML")
    p.add_argument("--json", action="store_true")
    p.add_argument("--executor", choices=["local", "sagemaker"], default=None,
                   help="whose store: local (default: the executor setting) or sagemaker (S3)")
    p.set_defaults(func=cmd_predictions)

    p = sub.add_parser("registry", parents=[common], help="the model registry (local; AWS with --executor sagemaker)")
    registry_common = argparse.ArgumentParser(add_help=False)
    registry_common.add_argument("--executor", choices=["local", "sagemaker"], default=None,
                                 help="whose registry: local (default: the executor setting) or sagemaker (AWS)")
    rsub = p.add_subparsers(dest="action", required=True)
    r = rsub.add_parser("list", parents=[common, registry_common])
    r.add_argument("--group")
    r.add_argument("--json", action="store_true")
    for action in ("approve", "reject"):
        r = rsub.add_parser(action, parents=[common, registry_common])
        r.add_argument("group")
        r.add_argument("version", type=int)
        r.add_argument("--note")
    p.set_defaults(func=cmd_registry)
    from smflow.commands import endpoint as endpoint_command

    endpoint_command.register(sub, common)
    from smflow.commands import serve as serve_command

    serve_command.register(sub, common)
    from smflow.commands import drift as drift_commands

    drift_commands.register(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"smflow {args.command}"
    try:
        return int(args.func(args))
    except UsageError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_USAGE
    except UserError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return EXIT_USER
    except SpecError as e:
        for issue in e.issues:
            print(issue, file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130  # 128 + SIGINT, as shells report it
    except Exception as e:  # noqa: BLE001 - the last line of defence: classify, never show a raw traceback
        message = environment_problem(e)
        if message is not None:
            print(f"{prog}: {message}", file=sys.stderr)
            return EXIT_USER
        return report_internal_error(prog, e, verbose=getattr(args, "verbose", False))


def environment_problem(error: BaseException) -> str | None:
    """A clear message for failures of the machine rather than of smflow (disk full, permissions, read-only
    file system), or None."""
    import errno
    import sqlite3

    full = "no space left on device"
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" writing {error.filename}" if error.filename else ""
        return (f"{full}{where}; free some disk space (or point SMFLOW_HOME at a larger disk) and run again — "
                "smflow writes atomically, so what was written before is intact")
    if isinstance(error, sqlite3.OperationalError) and "disk is full" in str(error):
        return f"{full} for the SQLite database ({error}); free some disk space and run again"
    if isinstance(error, OSError) and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and error.filename:
        return (f"cannot write {error.filename}: {error.strerror}; check its permissions, or point SMFLOW_HOME at "
                "a folder you can write")
    cause = error.__cause__ or error.__context__
    return environment_problem(cause) if cause is not None and cause is not error else None


def report_internal_error(prog: str, error: BaseException, *, verbose: bool) -> int:
    """An unexpected exception: one line saying so, the traceback in a log file (or on stderr with --verbose)."""
    import tempfile
    import traceback

    text = "".join(traceback.format_exception(error))
    summary = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    if verbose:
        sys.stderr.write(text)
        print(f"{prog}: internal error (a bug in smflow, not in your input): {summary}", file=sys.stderr)
        return EXIT_INTERNAL
    log = _write_crash_log(text, tempfile.gettempdir())
    where = f"the traceback is in {log}" if log else "run again with --verbose to see the traceback"
    print(f"{prog}: internal error (a bug in smflow, not in your input): {summary}; {where} — please report it",
          file=sys.stderr)
    return EXIT_INTERNAL


def _write_crash_log(text: str, fallback_dir: str) -> Path | None:
    from smflow.settings import smflow_home

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    for folder in (smflow_home() / "logs", Path(fallback_dir)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            log = folder / f"smflow-crash-{stamp}-{os.getpid()}.log"
            log.write_text(text, encoding="utf-8")
            return log
        except OSError:
            continue
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
