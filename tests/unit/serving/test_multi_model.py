"""A multi-model server: the target model from the request header, loaded on first use, an LRU bounded by count
and by memory, and clear answers for unknown or missing targets."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from tests.unit.serving.conftest import FEATURES, csv_rows, fitted_ridge, invoke, request, write_model

TARGET = "X-Amzn-SageMaker-Target-Model"
ROW = np.round(np.random.default_rng(9).normal(size=(1, FEATURES)), 6)


@pytest.fixture(scope="module")
def model_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Ridge]]:
    """model-0..2.tar.gz (distinct Ridge models, each with ~300 kB of padding) and an extracted directory."""
    root = tmp_path_factory.mktemp("mme") / "models"
    root.mkdir()
    models = {}
    for i in range(3):
        model = fitted_ridge(seed=i + 1)
        folder = write_model(tmp_path_factory.mktemp(f"m{i}"), model)
        (folder / "padding.bin").write_bytes(b"\0" * 300_000)
        with tarfile.open(root / f"model-{i}.tar.gz", "w:gz") as tar:
            for item in folder.iterdir():
                tar.add(item, arcname=item.name)
        models[f"model-{i}.tar.gz"] = model
    models["extracted"] = fitted_ridge(seed=10)
    write_model(root / "extracted", models["extracted"])
    return root, models


def mme(root: Path, **limits: Any) -> dict[str, Any]:
    return {"mode": "MultiModel", "containers": [{"name": "ridge"}],
            "multi_model": {"model_root": str(root), **limits}}


def predict(port: int, target: str) -> float:
    answer = invoke(port, csv_rows(ROW), **{TARGET: target})
    assert answer.status == 200, answer
    return float(answer.body)


def loaded(port: int) -> list[str]:
    return [m["modelName"] for m in request(port, "GET", "/models").json()["models"]]


def test_each_request_reaches_its_target_model(start: Any, model_root: tuple[Path, dict[str, Ridge]]) -> None:
    root, models = model_root
    server = start(**mme(root))
    assert request(server.port, "GET", "/ping").status == 200  # nothing to load up front
    for target, model in models.items():
        assert predict(server.port, target) == pytest.approx(float(model.predict(ROW.astype(np.float32))[0]))
    assert sorted(loaded(server.port)) == sorted(models)


def test_the_lru_evicts_by_count_and_removes_the_unpacked_copy(start: Any,
                                                               model_root: tuple[Path, dict[str, Ridge]]) -> None:
    root, _ = model_root
    server = start(**mme(root, max_models=2))
    for target in ("model-0.tar.gz", "model-1.tar.gz", "model-0.tar.gz", "model-2.tar.gz"):
        predict(server.port, target)
    assert loaded(server.port) == ["model-0.tar.gz", "model-2.tar.gz"]  # model-1 was least recently used
    assert server.server is not None
    scratch = sorted(p.name for p in server.server.scratch.iterdir())
    assert len(scratch) == 2 and not any("model-1" in name for name in scratch)
    predict(server.port, "model-1.tar.gz")  # loads again on demand
    assert loaded(server.port) == ["model-2.tar.gz", "model-1.tar.gz"]


def test_the_lru_evicts_by_memory_and_a_model_over_the_whole_budget_is_507(
    start: Any, model_root: tuple[Path, dict[str, Ridge]], tmp_path: Path
) -> None:
    root, _ = model_root
    server = start(**mme(root, max_models=10, max_memory_mb=1))  # room for three ~300 kB models, not four
    for target in ("model-0.tar.gz", "model-1.tar.gz", "model-2.tar.gz"):
        predict(server.port, target)
    cache = server.server.app.cache
    assert cache is not None and cache.memory_bytes <= 1024 * 1024
    (root / "big").mkdir(exist_ok=True)
    write_model(root / "big", fitted_ridge())
    (root / "big" / "weights.bin").write_bytes(b"\0" * 1_100_000)
    try:
        too_big = invoke(server.port, csv_rows(ROW), **{TARGET: "big"})
        assert too_big.status == 507 and "more than this endpoint's 1 MB" in too_big.json()["message"]
    finally:
        (root / "big" / "weights.bin").unlink()
    (root / "big" / "weights.bin").write_bytes(b"\0" * 600_000)
    try:
        predict(server.port, "big")  # fits alone: the older models go until it fits
    finally:
        (root / "big" / "weights.bin").unlink()
    assert "big" in loaded(server.port) and cache.memory_bytes <= 1024 * 1024
    assert len(loaded(server.port)) < 4


def test_unknown_missing_or_escaping_targets_are_clear_errors(start: Any,
                                                              model_root: tuple[Path, dict[str, Ridge]]) -> None:
    root, _ = model_root
    server = start(**mme(root))
    unknown = invoke(server.port, csv_rows(ROW), **{TARGET: "model-9.tar.gz"})
    missing = invoke(server.port, csv_rows(ROW))
    escaping = invoke(server.port, csv_rows(ROW), **{TARGET: "../models/model-0.tar.gz"})

    assert unknown.status == 404
    assert "no model 'model-9.tar.gz' on this multi-model endpoint" in unknown.json()["message"]
    assert missing.status == 400 and "X-Amzn-SageMaker-Target-Model" in missing.json()["message"]
    assert escaping.status == 400 and "relative to the endpoint's model location" in escaping.json()["message"]
    assert predict(server.port, "model-0.tar.gz")  # and it keeps serving


def test_a_target_that_fails_to_load_is_a_500_naming_it(start: Any, tmp_path: Path) -> None:
    write_model(tmp_path / "root" / "broken", source="def model_fn(model_dir):\n    raise OSError('no weights')\n")
    server = start(**mme(tmp_path / "root"))
    answer = invoke(server.port, csv_rows(ROW), **{TARGET: "broken"})
    assert answer.status == 500
    assert answer.json()["message"].startswith("model 'broken' did not load: ")
    assert "model_fn(" in answer.json()["message"] and "OSError: no weights" in answer.json()["message"]
