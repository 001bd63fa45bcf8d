"""Image URI → (framework, version): the SDK's framework images, and everything else left alone."""

from __future__ import annotations

import pytest

from smflow.compile.images import ImageResolutionError, resolve_image
from smflow.local_sagemaker.images.table import IMAGES
from smflow.local_sagemaker.images.uri import parse_image_uri


@pytest.mark.parametrize(("uri", "framework", "version"), [
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3", "sklearn", "1.2-1"),
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-py312-cpu-py3", "sklearn",
     "1.4-2-py312"),
    ("683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1", "xgboost", "1.7-1"),
    ("246618743249.dkr.ecr.us-west-2.amazonaws.com/sagemaker-xgboost:1.7-1-cpu-py3", "xgboost", "1.7-1"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1.0-cpu-py310", "pytorch", "2.1.0"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1.0-gpu-py310-cu118-ubuntu20.04-sagemaker",
     "pytorch", "2.1.0"),
    ("763104351884.dkr.ecr.us-east-1.amazonaws.com/tensorflow-inference:2.14.1-cpu", "tensorflow", "2.14.1"),
    ("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/pytorch-training:2.3.0-cpu-py311", "pytorch", "2.3.0"),
])
def test_framework_images_are_recognised(uri: str, framework: str, version: str) -> None:
    ref = parse_image_uri(uri)
    assert ref is not None and (ref.framework, ref.version) == (framework, version)
    assert ref.short == uri.split("/", 1)[1]


@pytest.mark.parametrize("uri", [
    "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-team/trainer:latest",  # a user's own image
    "811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1",  # the old built-in algorithm image
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn@sha256:" + "a" * 64,  # by digest
    "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:latest",
    "python:3.11-slim",
    "",
])
def test_other_images_are_not_framework_images(uri: str) -> None:
    assert parse_image_uri(uri) is None


@pytest.mark.parametrize("key", sorted(IMAGES))
def test_the_sdks_own_uri_for_every_table_entry_reads_back_as_that_entry(key: tuple[str, str]) -> None:
    """What `image: {framework, version}` compiles to (the SDK's image_uris) must find its table entry."""
    framework, version = key
    found = 0
    for scope in ("training", "inference"):
        try:
            uri = resolve_image(framework, version, "us-east-1", "ml.m5.large", scope)
        except ImageResolutionError:
            continue  # e.g. sklearn 1.4-2 has a training image only
        ref = parse_image_uri(uri)
        assert ref is not None and (ref.framework, ref.version) == key, uri
        found += 1
    assert found, f"the SDK knows no image for {framework} {version}"
