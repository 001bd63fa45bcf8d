"""The table's substitutes are what it says: the nearest versions with wheels for this Python (PyPI, via uv).

Re-derives every `instead` version the way table.py documents, checks that every other pin publishes a wheel
for this Python, and that each entry's whole requirement set resolves. Needs PyPI (uv caches the index), so it
runs only when asked: `SMFLOW_TEST_PYPI=1 make test` (the suite's network traffic otherwise stays on loopback,
apart from building the image environments the jobs under test need).
"""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

from smflow.local_sagemaker.images.build import ensure_environment, find_uv
from smflow.local_sagemaker.images.plan import current_python, plan_for
from smflow.local_sagemaker.images.table import IMAGES
from smflow.local_sagemaker.images.uri import ImageRef
from smflow.settings import environments_root

PYTHON = current_python()
pytestmark = pytest.mark.skipif(os.environ.get("SMFLOW_TEST_PYPI") != "1",
                                reason="asks PyPI for every table entry; set SMFLOW_TEST_PYPI=1 to run it")


def compile_requirements(lines: list[str], tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    requirements = tmp_path / "requirements.in"
    requirements.write_text("\n".join(lines) + "\n")
    return subprocess.run([find_uv(), "pip", "compile", "--no-config", "--quiet", "--python-version", PYTHON,
                           *extra, str(requirements)], capture_output=True, text=True, timeout=300, check=False)


def pinned_version(output: str, name: str) -> str:
    for line in output.splitlines():
        if line.lower().startswith(f"{name.lower()}=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError(f"{name} not in {output!r}")


@pytest.mark.parametrize("key", sorted(IMAGES))
def test_pins_and_substitutes(key: tuple[str, str], tmp_path: Path) -> None:
    image = IMAGES[key]
    for pin in (*image.packages, *image.toolkits):
        if pin.version is None:
            continue
        substitute = dict(pin.instead).get(PYTHON)
        if pin.name.startswith("sagemaker-"):
            continue  # source-only toolkits: whether they import is checked in built environments below
        if substitute is None:
            done = compile_requirements([f"{pin.name}=={pin.version}"], tmp_path, "--no-deps", "--no-build")
            assert done.returncode == 0, f"{pin.name}=={pin.version} does not install on Python {PYTHON}: {done.stderr}"
        else:
            exact = compile_requirements([f"{pin.name}=={pin.version}"], tmp_path, "--no-deps", "--no-build")
            assert exact.returncode != 0, f"{pin.name}=={pin.version} has a wheel for {PYTHON}: drop `instead`"
            lowest = compile_requirements([f"{pin.name}>={pin.version}"], tmp_path, "--no-deps", "--no-build",
                                          "--resolution", "lowest-direct")
            assert lowest.returncode == 0, lowest.stderr
            assert pinned_version(lowest.stdout, pin.name) == substitute, (pin.name, lowest.stdout)


@pytest.mark.parametrize("key", sorted(k for k, image in IMAGES.items() if image.extra_index_url is None))
def test_each_entry_resolves_as_a_whole(key: tuple[str, str], tmp_path: Path) -> None:
    image = IMAGES[key]
    plan = plan_for(image, ImageRef("", "", *key), PYTHON)
    only_binary = [arg for name in plan.wheels_only for arg in ("--only-binary", name)]
    done = compile_requirements(list(plan.requirements), tmp_path, *only_binary)
    assert done.returncode == 0, done.stderr
    for name, version in plan.pinned():
        assert pinned_version(done.stdout, name) == version


IMPORTS = {"scikit-learn": "sklearn", "sagemaker-training": "sagemaker_training.environment",
           "sagemaker-inference": "sagemaker_inference.default_inference_handler"}


@pytest.mark.parametrize("key", sorted(k for k in IMAGES if k[0] in ("sklearn", "xgboost")))
def test_every_pinned_package_imports_in_the_built_environment(key: tuple[str, str]) -> None:
    """Installing is not enough: each package (the toolkits above all) must import on this Python."""
    image = IMAGES[key]
    plan = plan_for(image, ImageRef(f"000000000000.dkr.ecr.us-east-1.amazonaws.com/test:{key[1]}", "test", *key),
                    PYTHON)
    ready = ensure_environment(plan, environments_root(), say=lambda _line: None, output=io.StringIO(),
                               should_stop=lambda: None)
    modules = [IMPORTS.get(pin.name, pin.name.replace("-", "_")) for pin in (*image.packages, *image.toolkits)]
    done = subprocess.run([str(ready.interpreter), "-W", "ignore", "-c",
                           f"import pkg_resources, {', '.join(modules)}"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    for name, version in plan.pinned():
        assert ready.versions[name] == version, (name, ready.versions.get(name))
