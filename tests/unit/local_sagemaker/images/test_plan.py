"""Table entry → what to install on this Python, which versions differ from the image, and the cache key."""

from __future__ import annotations

import sys

import pytest
from packaging.version import Version

from smflow.local_sagemaker.images.plan import plan_for, plan_for_image, unknown_image_notice
from smflow.local_sagemaker.images.table import IMAGES, lookup

SKLEARN_12 = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def test_sklearn_1_2_1_pins_as_the_image_and_substitutes_only_what_has_no_wheel() -> None:
    plan = plan_for_image(SKLEARN_12, "3.11")
    assert plan is not None
    assert plan.requirements[:4] == ("scikit-learn==1.2.1", "numpy==1.24.1", "pandas==1.5.0", "scipy==1.9.2")
    assert {r.split("==")[0] for r in plan.requirements} >= {"sagemaker-training", "sagemaker-inference", "packaging"}
    assert [str(s) for s in plan.substitutions] == ["pandas 1.5.0 instead of 1.1.3", "scipy 1.9.2 instead of 1.8.0"]
    assert plan.differences() == (
        "Python 3.11 instead of 3.9 (the Python of this machine); pandas 1.5.0 instead of 1.1.3, scipy 1.9.2 "
        "instead of 1.8.0 (the image's versions do not install or import on Python 3.11)")
    assert set(plan.wheels_only) == {"scikit-learn", "numpy", "pandas", "scipy"}
    warning = plan.version_warning()
    assert warning is not None and "pandas 1.5.0 instead of 1.1.3" in warning
    assert "SMFLOW_IMAGE_ENVIRONMENTS=off" in warning


def test_on_the_images_own_python_nothing_is_substituted() -> None:
    plan = plan_for_image(SKLEARN_12, "3.9")
    assert plan is not None
    assert "pandas==1.1.3" in plan.requirements and "scipy==1.8.0" in plan.requirements
    assert plan.substitutions == () and plan.python_substitution is None
    assert plan.differences() == "" and plan.version_warning() is None


def test_an_image_whose_pins_all_install_here_warns_of_nothing() -> None:
    plan = plan_for_image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3", "3.11")
    assert plan is not None and plan.version_warning() is None
    assert plan.differences() == "Python 3.11 instead of 3.10 (the Python of this machine)"
    assert "scipy" in plan.requirements  # not pinned by the image: resolved by uv


def test_the_key_names_the_image_and_changes_with_what_is_installed() -> None:
    on_311, on_39 = plan_for_image(SKLEARN_12, "3.11"), plan_for_image(SKLEARN_12, "3.9")
    assert on_311 is not None and on_39 is not None
    assert on_311.key.startswith("sklearn-1.2-1-py3.11-") and on_39.key.startswith("sklearn-1.2-1-py3.9-")
    assert on_311.key == plan_for(on_311.image, on_311.ref, "3.11").key  # deterministic
    xgb = plan_for_image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", "3.11")
    assert xgb is not None and xgb.key != on_311.key and "xgboost==1.7.4" in xgb.requirements


def test_unknown_images_fall_back_to_smflows_environment() -> None:
    own = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-team/trainer:latest"
    assert plan_for_image(own) is None
    assert unknown_image_notice(own) == (f"image {own} is not a SageMaker framework image smflow knows; the job "
                                         f"runs in smflow's own Python environment ({sys.executable})")
    newer = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3"
    assert plan_for_image(newer) is None
    assert "sklearn 1.9-0, which is not in smflow's table" in unknown_image_notice(newer)


def test_the_xgboost_images_ship_xgboost_and_the_libraries_the_container_ships() -> None:
    """The built-in algorithm mode runs in these environments: xgboost, numpy, scipy, pandas, scikit-learn."""
    for (framework, _), image in IMAGES.items():
        if framework == "xgboost":
            names = {pin.name for pin in image.packages}
            assert {"xgboost", "numpy", "scipy", "pandas", "scikit-learn"} <= names, image.version


@pytest.mark.parametrize("key", sorted(IMAGES))
def test_every_entry_is_sourced_and_substitutes_only_upwards(key: tuple[str, str]) -> None:
    image = lookup(*key)
    assert image is not None and image.source.startswith("https://")
    names = [pin.name for pin in (*image.packages, *image.toolkits)]
    assert len(names) == len(set(names)), names
    assert {"sagemaker-training", "sagemaker-inference"} <= set(names)
    for pin in (*image.packages, *image.toolkits):
        for python, instead in pin.instead:
            assert pin.version is not None and Version(instead) > Version(pin.version), (pin, python)


def test_a_toolkit_that_does_not_import_on_this_python_is_substituted_too() -> None:
    plan = plan_for_image("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.0-1-cpu-py3", "3.11")
    assert plan is not None
    assert "sagemaker-training==4.3.1" in plan.requirements and "sagemaker-inference==1.2.0" in plan.requirements
    assert "sagemaker-training 4.3.1 instead of 4.0.1" in [str(s) for s in plan.substitutions]


@pytest.mark.parametrize("key", sorted(IMAGES))
def test_every_environment_has_packaging_and_pkg_resources(key: tuple[str, str]) -> None:
    image = lookup(*key)
    assert image is not None
    plan = plan_for(image, REF, "3.11")
    assert "packaging" in plan.requirements and "setuptools<81" in plan.requirements


REF = plan_for_image(SKLEARN_12).ref  # type: ignore[union-attr]
