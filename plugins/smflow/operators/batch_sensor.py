"""`BatchArrivalSensor`: the first task of an on-data batch DAG — wait, without a worker slot, for a new batch.

A check runs in the worker: list the input, group the listing into batches (`smflow.batch.discovery`, the
batch DAG's own rule) and keep those the model version the DAG will use has not predicted (`smflow.batch
.ledger`: no manifest with that digest). Any → the task succeeds with their ids as its XCom. None → it defers
to `BatchArrivalTrigger` with the digests of every batch present, so the triggerer wakes it only for
something new (a new object, a marker completing a folder, an object rewritten with a new ETag), or after
`recheck_seconds` so a version approved meanwhile is noticed; then the check runs again.

The check is a hint, not the exactly-once guarantee: that belongs to the batch DAG's `find_batches` task and
the job names derived from batch digests, so two firings seeing the same batch still predict it once.

`timeout` and `soft_fail` mean what they mean for Airflow's sensors: the whole wait, across every deferral,
ends after `timeout` seconds with a failure (or a skip with `soft_fail`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout, AirflowSkipException

from smflow.batch.discovery import Batch, find_batches
from smflow.batch.ledger import MANIFEST_NAME, parse_manifest, pending
from smflow.operators.base import executor_name
from smflow.operators.triggers.batch_arrival import BatchArrivalTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from smflow.executors.base import Executor


class BatchArrivalSensor(BaseSensorOperator):
    """Succeed with the ids of batches under `input_prefix` still to predict; otherwise wait in the triggerer.

    `output_prefix` (the unit's `batch.output`) and `model_group` / `model_version` (`batch.model`) say where the
    manifests are and which version counts; without `output_prefix` every complete batch present is waiting.
    """

    template_fields: Sequence[str] = ("input_prefix", "pattern", "marker", "output_prefix")
    ui_color = "#e6f1f2"
    owed_for = "predict"  # what a waiting batch is owed, for the log (the monitor's sensor: "check")

    def __init__(
        self,
        *,
        input_prefix: str,
        pattern: str = "*.csv",
        marker: str | None = None,
        executor: str | None = None,
        poke_seconds: float = 30,
        deferrable: bool = True,
        output_prefix: str | None = None,
        model_group: str | None = None,
        model_version: int | None = None,
        recheck_seconds: float | None = 600,
        aws_conn_id: str | None = None,
        region_name: str | None = None,
        **kwargs: Any,
    ):
        kwargs.setdefault("poke_interval", poke_seconds)
        super().__init__(**kwargs)
        if output_prefix is not None and model_group is None and model_version is None:
            raise ValueError(f"{kwargs.get('task_id')}: output_prefix without model_group: say which model package "
                             "group's versions the manifests under it are checked against")
        self.input_prefix = input_prefix
        self.pattern = pattern
        self.marker = marker
        self.executor = executor
        self.poke_seconds = float(poke_seconds)
        self.deferrable = deferrable
        self.output_prefix = output_prefix
        self.model_group = model_group
        self.model_version = model_version
        self.recheck_seconds = recheck_seconds
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name

    # ---- the check (in the worker) --------------------------------------------------------------------

    def get_executor(self) -> Executor:
        from smflow.executors import get_executor

        return get_executor(self.executor_kind())

    def executor_kind(self) -> str:
        return self.executor or executor_name()

    def present(self, executor: Executor) -> list[Batch]:
        """Every complete batch under the input prefix now."""
        return find_batches(executor.list_objects(self.input_prefix), self.input_prefix, self.pattern, self.marker)

    def resolved_version(self, executor: Executor) -> int | None:
        """The version the batch DAG will predict with: the pinned one, else the group's latest Approved."""
        if self.model_version is not None:
            return self.model_version
        from smflow.local_sagemaker.registry.read_model import RegistryError

        assert self.model_group is not None
        try:
            latest = executor.model_registry().latest_approved(self.model_group)
        except RegistryError:  # no such group yet: the train DAG has not registered a version
            return None
        return int(latest["version"]) if latest else None

    def waiting(self, executor: Executor, batches: list[Batch]) -> list[Batch]:
        """The batches of `batches` the batch DAG would predict: all without a ledger, else the version's pending."""
        if self.output_prefix is None or not batches:
            return batches
        version = self.resolved_version(executor)
        if version is None:
            self.log.warning(
                "%d batch(es) under %s wait for a model: model package group %s has no Approved version (or does "
                "not exist yet). Approve one with `smflow registry approve %s VERSION` (or pin "
                "batch.model.version); checking again when data arrives or in %s s", len(batches),
                self.input_prefix, self.model_group, self.model_group, self.recheck_seconds)
            return []
        output = self.output_prefix.rstrip("/") + "/"

        def lookup(batch: Batch, label: str) -> dict[str, Any] | None:
            uri = f"{output}{batch.batch_id}/{label}/{MANIFEST_NAME}"
            return parse_manifest(executor.read_bytes(uri), uri) if executor.exists(uri) else None

        return pending(batches, lookup, version)

    def poke(self, context: Context) -> PokeReturnValue:
        """One check; the poke/reschedule path (deferrable=False) and the deferrable one share it."""
        executor = self.get_executor()
        present = self.present(executor)
        waiting = self.waiting(executor, present)
        if waiting:
            self.log.info("batches to %s under %s: %s", self.owed_for, self.input_prefix,
                          ", ".join(b.batch_id for b in waiting))
        else:
            self.log.info("nothing new to %s under %s (%d complete batch(es) present, all done or waiting for a "
                          "model)", self.owed_for, self.input_prefix, len(present))
        self._present = present
        self._executor = executor
        return PokeReturnValue(is_done=bool(waiting), xcom_value=[b.batch_id for b in waiting])

    # ---- deferral --------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        return self._check_or_defer(context, deadline=time.time() + self.timeout)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None,
                         deadline: float | None = None) -> Any:
        """Back from the triggerer: re-check (the trigger's news may be a batch already predicted), else wait on."""
        event = event or {}
        if event.get("status") == "error":
            raise AirflowException(f"{self.task_id}: {event.get('message')}")
        if event.get("status") == "arrived":
            self.log.info("the triggerer saw new batches under %s: %s", self.input_prefix,
                          ", ".join(event.get("batches") or []))
        return self._check_or_defer(context, deadline=deadline if deadline is not None else time.time() + self.timeout)

    def _check_or_defer(self, context: Context, deadline: float) -> Any:
        result = self.poke(context)
        if result.is_done:
            return result.xcom_value
        remaining = deadline - time.time()
        if remaining <= 0:
            message = (f"{self.task_id}: no new batch under {self.input_prefix} within the sensor's timeout "
                       f"({self.timeout:.0f} s)")
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        self.defer(trigger=self.trigger([b.digest for b in self._present], self._executor),
                   method_name="execute_complete", kwargs={"deadline": deadline},
                   timeout=timedelta(seconds=remaining))

    def trigger(self, seen: list[str], executor: Executor | None = None) -> BatchArrivalTrigger:
        """The trigger for this sensor: the executor's store (local) or connection (sagemaker), passed by value."""
        executor = executor or self.get_executor()
        store = getattr(executor, "store", None)
        return BatchArrivalTrigger(
            input_prefix=self.input_prefix, pattern=self.pattern, marker=self.marker, seen=seen,
            poke_seconds=self.poke_seconds, executor=executor.name,
            store_root=str(store.root) if store is not None else None,
            recheck_seconds=self.recheck_seconds if self.output_prefix else None,  # only a ledger changes its mind
            aws_conn_id=self.aws_conn_id or getattr(executor, "aws_conn_id", None),
            region_name=self.region_name or getattr(executor, "region_name", None))
