"""`smflow` command line: validate, compile, schema, convert, run, registry.

Exit codes: 0 success, 1 user error (with `file:line:col: key.path: message` lines), 2 usage error.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smflow.spec.errors import SpecError, SpecIssue


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
        raise SpecError([SpecIssue(label, 1, 1, "<file>", "no such file")])
    return load_pipeline(files[0])


def cmd_validate(args: argparse.Namespace) -> int:
    from smflow.compile.graph import compile_pipeline

    failed = False
    for label, files, seed in _sources(args.paths):
        try:
            doc = _load(label, files, seed)
            compile_pipeline(doc)
        except SpecError as e:
            failed = True
            for issue in e.issues:
                print(issue)
            continue
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


def cmd_schema(args: argparse.Namespace) -> int:
    from smflow.spec.schema import pipeline_json_schema

    print(json.dumps(pipeline_json_schema(), indent=2))
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from smflow.spec.seedconf import load_seed_documents, seed_files, to_native_yaml

    try:
        doc = load_seed_documents(seed_files(args.pattern))
    except SpecError as e:
        for issue in e.issues:
            print(issue, file=sys.stderr)
        return 1
    target_dir = Path.cwd() if args.output == "-" else Path(args.output).resolve().parent
    text = to_native_yaml(doc, relative_to=target_dir)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        print(f"wrote {args.output} (pipeline {doc.spec.pipeline}, {len(doc.nodes)} steps)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from smflow.dags.runner import format_summary, run_pipeline_dag

    try:
        conf = json.loads(args.conf) if args.conf else None
    except json.JSONDecodeError as e:
        print(f"smflow run: --conf is not valid JSON: {e}", file=sys.stderr)
        return 2
    logical_date = None
    if args.logical_date:
        try:
            logical_date = datetime.fromisoformat(args.logical_date)
        except ValueError:
            print(f"smflow run: --logical-date {args.logical_date!r} is not an ISO date-time "
                  "(e.g. 2026-11-23T03:00:00+00:00)", file=sys.stderr)
            return 2
        if logical_date.tzinfo is None:
            logical_date = logical_date.replace(tzinfo=UTC)
    try:
        summary = run_pipeline_dag(Path(args.path), args.dag, args.executor, conf, logical_date, args.verbose)
    except SpecError as e:
        for issue in e.issues:
            print(issue, file=sys.stderr)
        return 1
    except KeyError as e:
        print(f"{args.path}: {e.args[0]}", file=sys.stderr)
        return 1
    print()
    print(format_summary(summary))
    return 0 if summary.ok else 1


def cmd_registry(args: argparse.Namespace) -> int:
    from smflow.executors.local.registry import ModelRegistry
    from smflow.settings import registry_path

    registry = ModelRegistry(registry_path())
    try:
        if args.action == "list":
            rows = registry.list_versions(args.group)
            if args.json:
                print(json.dumps(rows, indent=2, default=str))
                return 0
            if not rows:
                print("no model package versions registered" + (f" in {args.group}" if args.group else ""))
            for row in rows:
                run = row.get("metadata", {}).get("smflow:run_id", "")
                print(f"{row['group']:<28} v{row['version']:<4} {row['status']:<22} {row['created'][:19]}  {run}")
            return 0
        status = "Approved" if args.action == "approve" else "Rejected"
        row = registry.set_status(args.group, args.version, status, args.note)
        print(f"{row['arn']}: {row['status']}")
        return 0
    except (ValueError, LookupError) as e:
        print(f"smflow registry: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # botocore ClientError for unknown names carries a clear message
        if type(e).__name__ == "ClientError":
            print(f"smflow registry: {e}", file=sys.stderr)
            return 1
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smflow", description="YAML ML pipelines → Airflow DAGs on SageMaker")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check pipeline specs; one file:line:col line per error")
    p.add_argument("paths", nargs="+", help="pipeline YAML files, directories, or seed-conf globs")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("compile", help="print the SageMaker requests and DAG structure")
    p.add_argument("paths", nargs="+")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("schema", help="JSON Schema of the native pipeline spec (for editors)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("convert", help="seed-framework confs → one native pipeline YAML")
    p.add_argument("pattern", help="glob of conf files, e.g. 'examples/*/conf/conf.yaml'")
    p.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("run", help="run one DAG of a pipeline through Airflow (dag.test) and print a summary")
    p.add_argument("path")
    p.add_argument("--dag", default="train", choices=["train", "batch", "monitor"])
    p.add_argument("--executor", default="local", choices=["local", "sagemaker"])
    p.add_argument("--conf", help="DAG run conf as JSON")
    p.add_argument("--logical-date", help="ISO date-time; the same value re-runs that run (same job names)")
    p.add_argument("-v", "--verbose", action="store_true", help="Airflow's own INFO logs too")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("registry", help="the local model registry")
    rsub = p.add_subparsers(dest="action", required=True)
    r = rsub.add_parser("list")
    r.add_argument("--group")
    r.add_argument("--json", action="store_true")
    for action in ("approve", "reject"):
        r = rsub.add_parser(action)
        r.add_argument("group")
        r.add_argument("version", type=int)
        r.add_argument("--note")
    p.set_defaults(func=cmd_registry)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
