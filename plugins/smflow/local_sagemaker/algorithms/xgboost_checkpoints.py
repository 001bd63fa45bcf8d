"""Checkpoints of the XGBoost algorithm, as its container keeps them for CheckpointConfig (managed spot
training, retries): after every round the model is written to `<LocalPath>/xgboost-checkpoint.<round>`
(atomically, keeping the 5 newest), and a job that finds such files resumes from the newest, training only the
remaining rounds (aws/sagemaker-xgboost-container `checkpointing.py`; the SageMaker developer guide, "Use
checkpoints in Amazon SageMaker AI"). LocalPath comes from `/opt/ml/input/config/checkpointconfig.json`.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

NAME = "xgboost-checkpoint"
KEEP = 5
_PATTERN = re.compile(rf"^{NAME}\.([0-9]+)$")


def rounds_done(directory: Path) -> list[int]:
    """The rounds that have a checkpoint file, oldest first."""
    if not directory.is_dir():
        return []
    return sorted(int(m.group(1)) for m in map(_PATTERN.match, os.listdir(directory)) if m)


def load_latest(xgb: Any, directory: Path | None) -> tuple[Any, int]:
    """(the newest checkpoint as a Booster, the round to start from), or (None, 0) when there is none."""
    if directory is None:
        return None, 0
    done = rounds_done(directory)
    if not done:
        return None, 0
    booster = xgb.Booster()
    booster.load_model(bytearray((directory / f"{NAME}.{done[-1]}").read_bytes()))
    return booster, done[-1] + 1


def saver(xgb: Any, directory: Path, start: int, to_bytes: Any) -> Any:
    """A training callback that writes round `start + epoch` after each round and drops the older ones."""
    directory.mkdir(parents=True, exist_ok=True)

    class SaveCheckpoint(xgb.callback.TrainingCallback):  # type: ignore[misc,name-defined]
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            current = start + epoch
            with tempfile.NamedTemporaryFile(dir=directory, suffix=".sagemaker-ignore", delete=False) as handle:
                handle.write(to_bytes(model))
            os.replace(handle.name, directory / f"{NAME}.{current}")
            for old in rounds_done(directory)[:-KEEP]:
                (directory / f"{NAME}.{old}").unlink(missing_ok=True)
            return False

    return SaveCheckpoint()
