"""condition step: gate registration/deployment on an evaluation report.

Like a SageMaker Pipelines ConditionStep it reads a JSON report (a PropertyFile) and compares metrics to
thresholds; it can also require the new model to beat the currently approved version in the registry by
a margin. A failed gate skips everything downstream (or fails the run when `on_fail: fail`).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException
from botocore.exceptions import ClientError

from smflow.model_packages import newest_package
from smflow.operators.base import SmflowOperator
from smflow.sagemaker_api import is_not_found

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.executors.base import Executor
    from smflow.operators.result import TaskResult

COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "lt": (operator.lt, "<"), "le": (operator.le, "<="), "gt": (operator.gt, ">"),
    "ge": (operator.ge, ">="), "eq": (operator.eq, "=="), "ne": (operator.ne, "!="),
}


def metric_value(report: Mapping[str, Any], path: str, where: str) -> float:
    """`a.b.c` in a report; a clear error names the missing key and what the report holds instead."""
    node: Any = report
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            keys = ", ".join(node) if isinstance(node, Mapping) else type(node).__name__
            raise AirflowFailException(f"metric '{path}' not found in {where}: no '{part}' (has: {keys})")
        node = node[part]
    try:
        return float(node)
    except (TypeError, ValueError):
        raise AirflowFailException(f"metric '{path}' in {where} is {node!r}, not a number") from None


def evaluate_checks(report: Mapping[str, Any], checks: list[dict[str, Any]], where: str) -> list[str]:
    """Failed checks as readable lines (empty when all hold)."""
    failures = []
    for check in checks:
        op_name = next(k for k in COMPARISONS if k in check)
        compare, symbol = COMPARISONS[op_name]
        value = metric_value(report, check["metric"], where)
        if not compare(value, float(check[op_name])):
            failures.append(f"{check['metric']} = {value:.6g}, required {symbol} {check[op_name]}")
    return failures


def approved_baseline(executor: Executor, group: str) -> tuple[str, dict[str, Any]] | None:
    """The newest Approved package in `group` and its metrics report, or None when nothing is approved yet."""
    try:
        newest = newest_package(executor, group, status="Approved")
    except ClientError as e:
        if is_not_found(e):
            return None  # the group does not exist yet: nothing approved to beat
        # Anything else (AccessDenied, throttling, …) must not be mistaken for "nothing approved": that would
        # let a worse model through the beat-the-approved check.
        code = e.response.get("Error", {}).get("Code", "?")
        raise AirflowException(f"could not look up the approved version in model package group {group} "
                               f"({code}: {e.response.get('Error', {}).get('Message', e)}); the gate cannot "
                               "decide without it, so this try fails — fix access or retry") from e
    if newest is None:
        return None
    arn = newest["ModelPackageArn"]
    described = executor.call("DescribeModelPackage", {"ModelPackageName": arn})
    uri = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    if not uri:
        raise AirflowFailException(f"approved package {arn} has no ModelQuality statistics to compare against; "
                                   "register with `report:` so versions carry their metrics")
    return arn, json.loads(executor.read_bytes(uri))


class ModelGateOperator(SmflowOperator):
    """A condition step: thresholds on the evaluation report, optionally beating the approved version."""

    ui_color = "#fff3bf"

    def execute(self, context: Context) -> TaskResult:
        executor = self.get_executor()
        params = self.params_
        report_uri = params["report"]
        report = json.loads(executor.read_bytes(report_uri))
        failures = evaluate_checks(report, params.get("checks", []), report_uri)
        decision: dict[str, Any] = {"report": report_uri}
        beat = params.get("beat_approved")
        if beat:
            baseline = approved_baseline(executor, beat["group"])
            new = metric_value(report, beat["metric"], report_uri)
            decision["new"] = new
            if baseline is None:
                self.log.info("no approved version in %s yet: nothing to beat", beat["group"])
            else:
                arn, old_report = baseline
                old = metric_value(old_report, beat["metric"], arn)
                margin = float(beat.get("margin", 0.0))
                better = new <= old - margin if beat["direction"] == "minimize" else new >= old + margin
                decision.update(baseline=arn, old=old)
                if not better:
                    word = "below" if beat["direction"] == "minimize" else "above"
                    failures.append(f"{beat['metric']} = {new:.6g} does not beat approved {arn} ({old:.6g}) by "
                                    f"{margin} ({word} {old - margin if word == 'below' else old + margin:.6g} "
                                    "needed)")
        context["ti"].xcom_push(key="gate", value={"passed": not failures, "failures": failures, **decision})
        if failures:
            message = "gate not passed: " + "; ".join(failures)
            if params.get("on_fail", "skip") == "fail":
                raise AirflowFailException(message)
            self.log.warning("%s; skipping downstream steps", message)
            raise AirflowSkipException(message)
        self.log.info("gate passed: %s", decision)
        return self.result(self.task_id, "Passed", decision=decision)
