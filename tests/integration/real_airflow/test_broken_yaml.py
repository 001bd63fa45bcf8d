"""A broken pipeline.yaml beside good ones, under a real dag-processor.

The good pipelines' DAGs stay listed, active and triggerable; the broken specs are listed as an import error
that names each YAML with its `file:line:col` lines; fixing the YAML brings its DAG back at the next parse
and the import error goes away.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pytest

from tests.integration.real_airflow.conftest import DEMO, SLEEPY, Pipelines
from tests.integration.real_airflow.deployment import AirflowApi, AirflowDeployment, wait_until

pytestmark = pytest.mark.integration

GOOD = ("diabetes__train", "sleepy__train")
POSITIONED = re.compile(r"^(?P<file>\S+\.ya?ml):(?P<line>\d+):(?P<col>\d+): ", re.MULTILINE)


def parsed(stamp: str | None) -> datetime:
    assert stamp, "never parsed"
    return datetime.fromisoformat(stamp)


def smflow_errors(api: AirflowApi) -> list[dict]:
    return [e for e in api.import_errors() if "smflow" in e["stack_trace"] or "pipeline.yaml" in e["stack_trace"]]


def test_broken_yaml_hides_nothing_and_is_listed_until_fixed(api: AirflowApi, deployment: AirflowDeployment,
                                                             pipelines: Pipelines) -> None:
    for dag_id in GOOD:
        api.wait_for_dag(dag_id)
    assert smflow_errors(api) == []
    t0 = time.monotonic()
    written = datetime.now(UTC)

    # a YAML syntax error in one copy, a validation error in another
    syntax = pipelines.copy(DEMO, "diabetes_syntax", replace={
        "pipeline: diabetes\n": "pipeline: diabetes_syntax\n",
        "inputs: {raw: ./data/diabetes.csv}": "inputs: {raw: ./data/diabetes.csv"})
    invalid = pipelines.copy(SLEEPY, "sleepy_invalid", replace={
        "pipeline: sleepy\n": "pipeline: sleepy_invalid\n", "type: training": "type: trainnig"})

    def listed_error() -> dict | None:
        errors = [e for e in smflow_errors(api) if parsed(e["timestamp"]) > written
                  and str(syntax) in e["stack_trace"] and str(invalid) in e["stack_trace"]]
        return errors[0] if errors else None

    error = wait_until(listed_error, timeout=60, what="an import error naming both broken specs")
    seconds_to_error = time.monotonic() - t0
    print(f"import error listed {seconds_to_error:.1f}s after the broken YAMLs were written:\n"
          f"filename={error['filename']!r} bundle={error.get('bundle_name')!r}\n{error['stack_trace']}")

    # every file:line:col line of both specs, as `smflow validate` prints them
    positions = {(m["file"], int(m["line"]), int(m["col"])) for m in POSITIONED.finditer(error["stack_trace"])}
    # libyaml reports the unclosed flow mapping where the next line's `key:` appears
    broken = next(n for n, line in enumerate(syntax.read_text().splitlines(), 1) if "{raw: ./data/diabetes.csv" in line)
    assert (str(syntax), broken + 1, 16) in positions, error["stack_trace"]
    assert any(f == str(invalid) and line == 10 for f, line, _ in positions), error["stack_trace"]

    # after a parse that saw the broken files, the good DAGs are still listed, active and error-free
    # (the DAG list of the UI hides stale DAGs; ask for them too, to say which went stale)
    def good_dags_reparsed() -> dict | None:
        dags = api.dags(exclude_stale=False)
        if all(d in dags and (dags[d]["is_stale"] or parsed(dags[d]["last_parsed_time"]) >= parsed(error["timestamp"]))
               for d in GOOD):
            return dags
        return None

    every = wait_until(good_dags_reparsed, timeout=60, what="a parse of the good DAGs after the import error")
    went_stale = {d: every[d]["relative_fileloc"] for d in GOOD if every[d]["is_stale"]}
    assert not went_stale, (f"good DAGs deactivated by the broken YAML (import error of {error['filename']!r}): "
                            f"{went_stale}")
    listed = api.dags()
    for dag_id in GOOD:
        assert dag_id in listed, f"{dag_id} is not in the DAG list"
        assert not listed[dag_id]["has_import_errors"], listed[dag_id]
        assert not api.dag(dag_id)["is_stale"]
    assert "diabetes_syntax__train" not in listed and "sleepy_invalid__train" not in listed
    # the error belongs to a loader file that defines no DAG, never to the one holding the good DAGs
    dag_files = {listed[d]["relative_fileloc"] for d in GOOD}
    assert error["filename"] not in dag_files, (error["filename"], dag_files)

    # ... and triggerable: a run of a good pipeline goes through while the broken YAML is still there
    api.unpause("sleepy__train")
    run = api.trigger("sleepy__train", note="beside a broken YAML")
    ended = api.wait_for_run("sleepy__train", run["dag_run_id"], timeout=120)
    assert ended["state"] == "success", api.ti_states("sleepy__train", run["dag_run_id"])
    assert listed_error() is not None, "the import error went away while the YAML is still broken"

    # fix both: their DAGs appear at the next parse, and the import error is gone
    fixed = datetime.now(UTC)
    t1 = time.monotonic()
    pipelines.edit(syntax, "inputs: {raw: ./data/diabetes.csv\n", "inputs: {raw: ./data/diabetes.csv}\n")
    pipelines.edit(invalid, "type: trainnig", "type: training")
    api.wait_for_dag("diabetes_syntax__train", timeout=60)
    api.wait_for_dag("sleepy_invalid__train", timeout=60)
    wait_until(lambda: not smflow_errors(api), timeout=60, what="the import error to go away")
    print(f"fixed DAGs listed and the import error gone {time.monotonic() - t1:.1f}s after the fix")
    dags = api.dags()
    for dag_id in (*GOOD, "diabetes_syntax__train", "sleepy_invalid__train"):
        assert not dags[dag_id]["is_stale"], dags[dag_id]
        assert parsed(dags[dag_id]["last_parsed_time"]) > fixed or dag_id in GOOD
