"""Property: whatever a hand edit does to a spec, `validate` ends in valid specs or positioned `SpecError`s.

Mutations (tests/unit/spec/mutations.py) of the demo pipeline and the seed-framework fixtures: character
insertions (control characters, YAML indicators, separators), key deletions and renames, values swapped for
other types, explicit tags on values and keys, huge strings, dropped or re-indented lines. Any other exception
fails the test, as does an issue without a file, a line ≥ 1 and a column ≥ 1, or one that spans lines.

The budget is fixed for CI (derandomized, 300 examples in all, a few seconds); a longer campaign runs the
same mutations with `SMFLOW_FUZZ_EXAMPLES=5000`.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.spec.mutations import mutate, unpositioned, validate_files, workspaces

SEED_ENV = {"SMP_ACCOUNTID": "111122223333", "SMP_REGION": "eu-west-1", "SMP_S3BUCKETNAME": "seed-bucket",
            "SMP_ROLE": "arn:aws:iam::111122223333:role/SeedRole"}
EXAMPLES = int(os.environ.get("SMFLOW_FUZZ_EXAMPLES", "75"))  # per workspace; 4 workspaces


@pytest.fixture(scope="module")
def spaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Path, list[Path]]]]:
    saved = {k: os.environ.get(k) for k in SEED_ENV}
    os.environ.update(SEED_ENV)
    yield workspaces(tmp_path_factory.mktemp("fuzz"))
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.mark.parametrize("name", ["demo", "lgbm", "tf", "multi"])
def test_mutated_specs_give_positioned_errors_only(spaces: dict[str, tuple[Path, list[Path]]], name: str) -> None:
    folder, files = spaces[name]
    originals = {f: f.read_text() for f in files}
    assert validate_files(folder, files, seed=name != "demo") is None, "the unmutated fixture must be valid"

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(rng=st.randoms(use_true_random=False), which=st.integers(0, len(files) - 1))
    def check(rng: random.Random, which: int) -> None:
        target = files[which]
        text = mutate(originals[target], rng)
        target.write_bytes(text.encode("utf-8", "surrogatepass"))  # lone surrogates become invalid UTF-8
        try:
            error = validate_files(folder, files, seed=name != "demo")
        finally:
            target.write_text(originals[target])
        if error is not None:
            assert error.issues, "a SpecError without issues prints nothing"
            assert not unpositioned(error), "\n".join(unpositioned(error))

    check()
