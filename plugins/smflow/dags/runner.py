"""Run one pipeline DAG through Airflow in this process (`dag.test()`) on a SQLite DB under the smflow home.

The DAG is built from a YAML path given on the command line, i.e. outside any dags folder, so it must be
serialized into a bundle of our own before `dag.test()` (reference: airflow3-recipes.md).
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from smflow.settings import smflow_home

BUNDLE = "smflow"


def prepare_airflow_env(home: Path | None = None, *, verbose: bool = False) -> Path:
    """Point Airflow at a private home + SQLite DB; must run before the first `import airflow`.

    Unless `verbose`, Airflow's own bookkeeping is logged at WARNING and only the task operators (the
    jobs' logs, uploads, decisions) at INFO, so a run reads as what the pipeline did.
    """
    home = home or smflow_home()
    airflow_home = home / "airflow"
    dags_folder = airflow_home / "dags"
    dags_folder.mkdir(parents=True, exist_ok=True)
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


def ensure_db(airflow_home: Path) -> float:
    """Migrate the metadata DB once per home and Airflow version (≈4 s); later runs skip it."""
    import airflow

    url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    # The marker sits beside a SQLite file, so homes that share one DB (tests) migrate it once.
    db_file = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else airflow_home / "db"
    marker = db_file.with_name(f"{db_file.name}.migrated-{airflow.__version__}")
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
        return self.state == "success"


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


def run_pipeline_dag(path: Path, kind: str = "train", executor: str = "local",
                     conf: dict[str, Any] | None = None, logical_date: datetime | None = None,
                     verbose: bool = False) -> RunSummary:
    """Compile `path`, build the `<pipeline>__<kind>` DAG, serialize it and run it with `dag.test()`.

    Giving the `logical_date` of an earlier run re-runs that run (same run id, so the same job names): tasks
    find the jobs their earlier tries started, as a retried task would.
    """
    airflow_home = prepare_airflow_env(verbose=verbose)
    os.environ["SMFLOW_EXECUTOR"] = executor
    from smflow.compile.graph import compile_pipeline
    from smflow.spec import load_pipeline

    compiled = compile_pipeline(load_pipeline(path)).dag(kind)
    ensure_db(airflow_home)
    from smflow.dags.factory import build_dag

    dag = build_dag(compiled, fileloc=str(path), executor=executor)
    serialize(dag)
    started = time.perf_counter()
    # run_after = logical_date makes the run id `manual__<date>`, so the same date names the same run again.
    dag_run = (dag.test(run_conf=conf, logical_date=logical_date, run_after=logical_date) if logical_date
               else dag.test(run_conf=conf))
    return summarise(dag_run, time.perf_counter() - started)


def format_summary(summary: RunSummary) -> str:
    lines = [f"{summary.dag_id}  run {summary.run_id}: {summary.state.upper()} in {summary.seconds:.1f}s", ""]
    width = max((len(t.task_id) for t in summary.tasks), default=10)
    for task in summary.tasks:
        seconds = f"{task.seconds:6.1f}s" if task.seconds is not None else "      -"
        detail = ""
        xcom = task.xcom or {}
        if xcom.get("metrics"):
            detail = "  " + ", ".join(f"{k}={v:.4g}" for k, v in xcom["metrics"].items())
        if xcom.get("version") is not None:
            detail = f"  registered {xcom.get('model_package_arn')} (version {xcom['version']}, {xcom.get('status')})"
        if xcom.get("gate") and not xcom["gate"].get("passed"):
            detail = "  gate not passed: " + "; ".join(xcom["gate"].get("failures", []))
        elif xcom.get("decision"):
            decision = xcom["decision"]
            new, old = decision.get("new"), decision.get("old")
            detail = "  gate passed" + (f" (new {new:.4g} vs approved {old:.4g})" if old is not None else
                                        f" (new {new:.4g}; no approved version yet)" if new is not None else "")
        lines.append(f"  {task.task_id:<{width}}  {task.state:<10} {seconds}{detail}")
    return "\n".join(lines)
