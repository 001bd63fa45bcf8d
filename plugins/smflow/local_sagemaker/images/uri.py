"""An ECR image URI → (framework, version), the way SageMaker's framework images are named.

The SageMaker Python SDK builds framework image URIs as `<account>.dkr.ecr.<region>.<domain>/<repository>:<tag>`
(https://sagemaker.readthedocs.io/en/stable/api/utility/image_uris.html), with the tag the framework version
plus, for most frameworks, the processor and Python: `sagemaker-scikit-learn:1.2-1-cpu-py3`,
`sagemaker-xgboost:1.7-1`, `pytorch-training:2.1.0-cpu-py310`, `tensorflow-inference:2.14.1-cpu`. Only the
repositories of framework images are recognised; any other image (a user's own ECR repository, a built-in
algorithm such as `xgboost:1`, a digest reference) is not a framework image and gives None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Repository → the SDK's framework name (image_uri_config/<framework>.json lists these repositories).
FRAMEWORK_REPOSITORIES = {
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
    "pytorch-training": "pytorch",
    "pytorch-inference": "pytorch",
    "sagemaker-pytorch": "pytorch",
    "tensorflow-training": "tensorflow",
    "tensorflow-inference": "tensorflow",
}

_ANY_IMAGE = re.compile(r"^(?:[^/]+/)*(?P<repository>[^/:@]+)(?::(?P<tag>[^@]+))?(?:@.+)?$")
_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<repository>[^:@]+):(?P<tag>[^@]+)$")
# The processor part and everything after it (`-cpu-py3`, `-gpu-py310-cu121-ubuntu20.04`, `-cpu`).
_PROCESSOR = re.compile(r"-(?:cpu|gpu|neuronx?|inf\d?)(?:-.*)?$")


@dataclass(frozen=True)
class ImageRef:
    """What an image URI says about its contents."""

    uri: str
    repository: str
    framework: str
    version: str

    @property
    def short(self) -> str:
        """`sagemaker-scikit-learn:1.2-1-cpu-py3`, the part of the URI people recognise."""
        return self.uri.split("/", 1)[1]


def split_image_uri(uri: str) -> tuple[str, str | None]:
    """Any image reference → (repository, tag): `…/sagemaker-xgboost:1.7-1` → (`sagemaker-xgboost`, `1.7-1`),
    `…/kmeans@sha256:…` → (`kmeans`, None). Built-in algorithms are recognised by their repository alone."""
    match = _ANY_IMAGE.match(uri.strip())
    if match is None:
        return uri.strip(), None
    return match["repository"], match["tag"]


def parse_image_uri(uri: str) -> ImageRef | None:
    """(framework, version) of a SageMaker framework image URI; None for any other image."""
    match = _ECR.match(uri.strip())
    if match is None:
        return None
    repository, tag = match["repository"], match["tag"]
    framework = FRAMEWORK_REPOSITORIES.get(repository)
    if framework is None:
        return None
    version = _PROCESSOR.sub("", tag)
    if not version or not version[0].isdigit():
        return None
    return ImageRef(uri.strip(), repository, framework, version)
