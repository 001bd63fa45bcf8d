"""`DriftArrivalSensor`: the first task of an on-data monitor DAG — wait, without a worker slot, for a batch the
monitor has not checked yet (no drift report with its digest: smflow/batch/drift_ledger.py).

The batch DAG's sensor with the monitor's ledger: the same listing, batch rule, trigger and deferral; only the
question "is this batch still owed?" differs. As there, the check is a hint: `check_drift` decides what is
checked, so two firings seeing the same batch still check it once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from smflow.batch.discovery import Batch
from smflow.batch.drift_ledger import unchecked
from smflow.operators.batch_sensor import BatchArrivalSensor

if TYPE_CHECKING:
    from smflow.executors.base import Executor


class DriftArrivalSensor(BatchArrivalSensor):
    """Succeed with the ids of batches under `input_prefix` without a drift report; otherwise wait in the
    triggerer. `output_prefix` is the unit's monitor output (where the reports are)."""

    owed_for = "check"

    def waiting(self, executor: Executor, batches: list[Batch]) -> list[Batch]:
        if self.output_prefix is None or not batches:
            return batches
        return unchecked(batches, self.output_prefix,
                         lambda uri: executor.read_bytes(uri) if executor.exists(uri) else None)
