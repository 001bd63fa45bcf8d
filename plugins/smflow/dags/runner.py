"""Run one pipeline DAG through Airflow in this process (`dag.test()`) on a SQLite DB under the smflow home.

The DAG is built from a YAML path given on the command line, i.e. outside any dags folder, so it must be
serialized into a bundle of our own before `dag.test()` (Airflow 3.1+ creates runs only for serialized DAGs;
astronomer-cosmos' `tests/utils.py` does the same).
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smflow.errors import UsageError, UserError
from smflow.settings import checked_home

BUNDLE = "smflow"


def prepare_airflow_env(home: Path | None = None, *, verbose: bool = False) -> Path:
    """Point Airflow at a private home + SQLite DB; must run before the first `import airflow`.

    Unless `verbose`, Airflow's own bookkeeping is logged at WARNING and only the task operators (the
    jobs' logs, uploads, decisions) at INFO, so a run reads as what the pipeline did.
    """
    home = home or checked_home(create=True)
    airflow_home = home / "airflow"
    dags_folder = airflow_home / "dags"
    try:
        dags_folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"cannot create {dags_folder}: a file is in the way inside the smflow home {home}; move "
                        "it away") from None
    os.environ.setdefault("SMFLOW_HOME", str(home))
    os.environ["AIRFLOW_HOME"] = str(airflow_home)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
    os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{airflow_home / 'airflow.db'}")
    if verbose:
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    else:
        # Raised by Airflow's own imports, not actionable for a pipeline author.
        warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
        os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
        # The bundle manager warns that our in-process bundle is not in its config; that is by design here.
        os.environ.setdefault("AIRFLOW__LOGGING__NAMESPACE_LEVELS",
                              "airflow.task.operators=INFO airflow.dag_processing.bundles.manager=ERROR")
    return airflow_home


def _db_file(airflow_home: Path) -> Path:
    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    # Beside a SQLite file, so homes that share one DB (tests) share its marker and its lock too.
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else airflow_home / "db"


@contextmanager
def waiting_lock(path: Path, waiting_message: str, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """An exclusive `fcntl.flock` on `path` (created if missing), held for the block. When another process holds
    it, `waiting_message` is reported once and the lock is awaited; the OS drops it if its holder dies, so a
    killed run never blocks the next one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    report = on_wait or (lambda text: print(text, file=sys.stderr, flush=True))
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            report(waiting_message + (f" (held by {holder})" if holder else "") + "; waiting for it to finish…")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_db(airflow_home: Path) -> float:
    """Migrate the metadata DB once per home and Airflow version (≈4 s); later runs skip it.

    Two `smflow run`s on a fresh home would both migrate at once and one would fail; a file lock makes the
    second wait until the first has migrated, then skip it.
    """
    import airflow

    db_file = _db_file(airflow_home)
    marker = db_file.with_name(f"{db_file.name}.migrated-{airflow.__version__}")
    if marker.exists():
        return 0.0
    with waiting_lock(db_file.with_name(f"{db_file.name}.smflow-migrate.lock"),
                      f"another smflow run is creating the Airflow database {db_file}"):
        if marker.exists():
            return 0.0
        from airflow.utils.db import initdb

        started = time.perf_counter()
        initdb()
        marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S"))
        return time.perf_counter() - started


def serialize(dag: Any) -> None:
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    with create_session() as session:
        if not session.get(DagBundleModel, BUNDLE):
            session.add(DagBundleModel(name=BUNDLE))
    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"], collect_dags=False)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, bundle_name=BUNDLE, bundle_version=None)


@dataclass
class TaskSummary:
    task_id: str
    state: str
    seconds: float | None
    xcom: dict[str, Any] | None


@dataclass
class RunSummary:
    dag_id: str
    run_id: str
    state: str
    seconds: float
    tasks: list[TaskSummary] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Success with at least one task run: a run that ran nothing did not do what was asked."""
        return self.state == "success" and bool(self.tasks)


def summarise(dag_run: Any, seconds: float) -> RunSummary:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    summary = RunSummary(dag_run.dag_id, dag_run.run_id, str(dag_run.state), seconds)
    with create_session() as session:
        rows = session.query(XComModel).filter(XComModel.dag_id == dag_run.dag_id,
                                               XComModel.run_id == dag_run.run_id,
                                               XComModel.key.in_(["return_value", "gate"])).all()
        values: dict[str, dict[str, Any]] = {}
        for row in rows:
            value = XComModel.deserialize_value(row)
            values.setdefault(row.task_id, {}).update(value if row.key == "return_value" else {"gate": value})
        from airflow.models.taskinstance import TaskInstance

        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag_run.dag_id,
                                                 TaskInstance.run_id == dag_run.run_id).all()
        order = {t.task_id: i for i, t in enumerate(dag_run.dag.tasks)} if getattr(dag_run, "dag", None) else {}
        for ti in sorted(tis, key=lambda t: (order.get(t.task_id, 0), t.start_date or 0, t.task_id)):
            summary.tasks.append(TaskSummary(ti.task_id, str(ti.state), ti.duration, values.get(ti.task_id)))
    return summary


def check_logical_date(compiled: Any, logical_date: datetime | None, path: Path) -> None:
    """A run before the DAG's start date would run no task and still report success: refuse it."""
    start = (compiled.settings or {}).get("start_date")
    if logical_date is None or not start:
        return
    start_date = datetime.fromisoformat(start)
    if start_date.tzinfo is None:
        start_date = start_date.replace(tzinfo=UTC)
    if logical_date < start_date:
        raise UsageError(f"--logical-date {logical_date.isoformat()} is before the start date of "
                         f"{compiled.dag_id} ({start_date.isoformat()}, `airflow.start_date` in {path}), so "
                         "Airflow would run no task; give a later date, or set an earlier airflow.start_date")


def check_run_conf(compiled: Any, conf: dict[str, Any] | None, path: Path) -> None:
    """The run conf's values for pipeline parameters, checked as Airflow checks them when it creates the run
    (each Param's JSON schema), but reported as one clear usage error naming the parameter and what it takes,
    before anything starts. Other conf keys are the run's own (Airflow passes them through)."""
    from jsonschema import FormatChecker, ValidationError, validate

    from smflow.dags.factory import PARAM_SCHEMA_KEYS  # what each pipeline Param checks

    problems = []
    for name, value in (conf or {}).items():
        schema = (compiled.params or {}).get(name)
        if schema is None:
            continue
        rules = {key: schema[key] for key in PARAM_SCHEMA_KEYS if key in schema}
        try:
            validate(value, rules, format_checker=FormatChecker())
        except ValidationError as e:
            wanted = ", ".join(f"{key} {json.dumps(rule)}" for key, rule in rules.items())
            problems.append(f"{name}: {e.message} (the pipeline parameter takes {wanted}; default "
                            f"{json.dumps(schema['default'])})")
    if problems:
        raise UsageError(f"--conf does not fit the parameters of {compiled.dag_id} ({path}): " + "; ".join(problems))


def check_batch_input(compiled: Any, conf: dict[str, Any] | None, path: Path) -> None:
    """A batch run's `input` (--input) must lie inside a unit's `batch.input`, or the run would find nothing."""
    value = (conf or {}).get("input")
    if value is None or not compiled.dag_id.endswith("__batch"):
        return
    inputs = [t.params["input"] for t in compiled.tasks if t.kind == "find_batches"]
    folders = [i if i.endswith("/") else i + "/" for i in inputs]
    if not isinstance(value, str) or not value.startswith("s3://") or not any(
            value.startswith(f) or f.startswith(value) for f in folders):
        raise UsageError(f"--input {value!r} is not inside the batch input of {compiled.dag_id} "
                         f"({', '.join(inputs)}, `batch.input` in {path}); give an s3:// prefix or object under it")


def run_pipeline_dag(path: Path, kind: str = "train", executor: str = "local",
                     conf: dict[str, Any] | None = None, logical_date: datetime | None = None,
                     verbose: bool = False) -> RunSummary:
    """Compile `path`, build the `<pipeline>__<kind>` DAG, serialize it and run it with `dag.test()`.

    Giving the `logical_date` of an earlier run re-runs that run (same run id, so the same job names): tasks
    find the jobs their earlier tries started, as a retried task would. Two runs of the same DAG and date at
    once would collide in Airflow's DB, so the second waits for the first (a lock in the smflow home).
    """
    airflow_home = prepare_airflow_env(verbose=verbose)
    os.environ["SMFLOW_EXECUTOR"] = executor
    from smflow.compile.graph import compile_pipeline
    from smflow.spec import load_pipeline

    pipeline = compile_pipeline(load_pipeline(path))
    try:
        compiled = pipeline.dag(kind)
    except KeyError as e:
        raise UserError(f"{path}: {e.args[0]}") from None
    check_logical_date(compiled, logical_date, path)
    check_run_conf(compiled, conf, path)
    check_batch_input(compiled, conf, path)
    ensure_db(airflow_home)
    from smflow.dags.factory import build_dag

    dag = build_dag(compiled, fileloc=str(path), executor=executor)
    run_name = logical_date.strftime("%Y-%m-%dT%H-%M-%S") if logical_date else "now"
    lock = airflow_home / "locks" / f"{compiled.dag_id}.{run_name}.lock"
    what = f"run {logical_date.isoformat()}" if logical_date else "a run"
    with waiting_lock(lock, f"another smflow run of {compiled.dag_id} ({what}) is in progress on this SMFLOW_HOME"):
        serialize(dag)
        started = time.perf_counter()
        # run_after = logical_date makes the run id `manual__<date>`, so the same date names the same run again.
        dag_run = (dag.test(run_conf=conf, logical_date=logical_date, run_after=logical_date) if logical_date
                   else dag.test(run_conf=conf))
        return summarise(dag_run, time.perf_counter() - started)


def format_summary(summary: RunSummary) -> str:
    state = summary.state.upper() if summary.tasks else f"{summary.state.upper()} BUT NO TASK RAN"
    lines = [f"{summary.dag_id}  run {summary.run_id}: {state} in {summary.seconds:.1f}s", ""]
    width = max((len(t.task_id) for t in summary.tasks), default=10)
    for task in summary.tasks:
        seconds = f"{task.seconds:6.1f}s" if task.seconds is not None else "      -"
        detail = ""
        xcom = task.xcom or {}
        if xcom.get("metrics"):
            detail = "  " + ", ".join(f"{k}={v:.4g}" for k, v in xcom["metrics"].items())
        if xcom.get("version") is not None:
            detail = f"  registered {xcom.get('model_package_arn')} (version {xcom['version']}, {xcom.get('status')})"
        detail = batch_detail(task.task_id, xcom) or monitor_detail(task.task_id, xcom) or detail
        if xcom.get("gate") and not xcom["gate"].get("passed"):
            detail = "  gate not passed: " + "; ".join(xcom["gate"].get("failures", []))
        elif xcom.get("decision"):
            decision = xcom["decision"]
            new, old = decision.get("new"), decision.get("old")
            detail = "  gate passed" + (f" (new {new:.4g} vs approved {old:.4g})" if old is not None else
                                        f" (new {new:.4g}; no approved version yet)" if new is not None else "")
        lines.append(f"  {task.task_id:<{width}}  {task.state:<10} {seconds}{detail}")
    return "\n".join(lines)


def batch_detail(task_id: str, xcom: dict[str, Any]) -> str:
    """What a batch DAG task did, for the summary: the model used, the batches owed, where predictions went."""
    outputs = xcom.get("outputs") or {}
    if task_id.endswith(".resolve_model") and "model_version" in outputs:
        return f"  model package version {outputs['model_version']} ({xcom.get('status')}) → model {xcom['job_name']}"
    if "batches" in xcom:
        owed = [b["batch_id"] for b in xcom["batches"]]
        return f"  {len(owed)} batch(es) to predict" + (f": {', '.join(owed)}" if owed else " (all predicted)")
    if "predicted" in xcom:
        parts = [f"{p['batch_id']} ({p['records']['output']} records{', job reused' if p.get('reused') else ''})"
                 for p in xcom["predicted"]]
        folders = sorted({p["predictions"] for p in xcom["predicted"]})
        return f"  predicted {', '.join(parts)} → {', '.join(folders)}"
    if "preprocessed" in xcom:
        parts = [p["batch_id"] + (" (job reused)" if p.get("reused") else "") for p in xcom["preprocessed"]]
        return f"  preprocessed {', '.join(parts)}"
    return ""


def monitor_detail(task_id: str, xcom: dict[str, Any]) -> str:
    """What a monitor DAG task did, for the summary: the version and baseline, each batch's verdict and report,
    the retrain Asset updated."""
    outputs = xcom.get("outputs") or {}
    if task_id.endswith(".resolve_baseline") and "baseline" in outputs:
        return (f"  model package version {outputs['model_version']} ({xcom.get('status')}), "
                f"baseline {outputs['baseline']}")
    if "checked" in xcom:
        quality = "".join(f"; {q['batch_id']}: {q['metric']} {q['current']:.4g} vs {q['reference']:.4g} at "
                          f"evaluation{' QUALITY DRIFT' if q['quality_drift'] else ''}"
                          for q in xcom.get("quality", []))
        if not xcom["checked"]:
            return "  0 batch(es) to check (all checked)" + quality
        parts = [f"{c['batch_id']}: " + (f"DRIFT ({', '.join(c['drifted'])})" if c["dataset_drift"] else
                                         f"no drift ({len(c['drifted'])}/{c['features']} features drifted)")
                 + {True: ", predictions drifted", False: ", predictions did not"}.get(c.get("prediction_drift"), "")
                 + f" → {c['html']}" for c in xcom["checked"]]
        return "  " + "; ".join(parts) + quality
    if task_id.endswith(".retrain") and xcom.get("status") == "Triggered":
        return f"  updated {xcom['job_name']}: retraining (report {outputs.get('report')})"
    return ""

