"""Which container images are SageMaker built-in algorithms, named the way the SageMaker Python SDK's
`image_uris.retrieve` names them (`framework="linear-learner"`, `"xgboost"`, …).

An image is given either as a framework name (the spec's `image.framework`) or as an ECR URI, whose
repository part (`…/sagemaker-xgboost:1.7-1`, `…/linear-learner:1`) identifies the algorithm. XGBoost is
both a framework (script mode, with an entry point) and an algorithm (no entry point); every other name
here is an algorithm only.

Pure Python: the spec, the compiler and the local SageMaker all ask these questions.
"""

from __future__ import annotations

import re

from smflow.local_sagemaker.images.uri import split_image_uri

XGBOOST = "xgboost"

# SDK image_uris framework name → the ECR repositories its images live in (the SDK's image_uri_config).
ALGORITHM_REPOSITORIES: dict[str, tuple[str, ...]] = {
    "blazingtext": ("blazingtext",),
    "factorization-machines": ("factorization-machines",),
    "forecasting-deepar": ("forecasting-deepar",),
    "image-classification": ("image-classification",),
    "ipinsights": ("ipinsights",),
    "kmeans": ("kmeans",),
    "knn": ("knn",),
    "lda": ("lda",),
    "linear-learner": ("linear-learner",),
    "ntm": ("ntm",),
    "object-detection": ("object-detection",),
    "object2vec": ("object2vec",),
    "pca": ("pca",),
    "randomcutforest": ("randomcutforest",),
    "semantic-segmentation": ("semantic-segmentation",),
    "seq2seq": ("seq2seq",),
    XGBOOST: ("sagemaker-xgboost", "xgboost"),
}
_BY_REPOSITORY = {repo: name for name, repos in ALGORITHM_REPOSITORIES.items() for repo in repos}


def repository_of(uri: str) -> tuple[str, str | None]:
    """`123.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1` → (`sagemaker-xgboost`, `1.7-1`)."""
    return split_image_uri(uri)


def algorithm_of(framework: str | None, uri: str | None) -> str | None:
    """The built-in algorithm an image is (SDK framework name), or None for a framework / custom image."""
    if uri:
        return _BY_REPOSITORY.get(repository_of(uri)[0])
    if framework:
        name = framework.strip().lower()
        return name if name in ALGORITHM_REPOSITORIES else None
    return None


def is_xgboost_image(uri: str | None) -> bool:
    return bool(uri) and algorithm_of(None, uri) == XGBOOST


def xgboost_version(version: str | None) -> tuple[int, int] | None:
    """`1.7-1` → (1, 7); `0.90-2` → (0, 90); `1` (the latest alias) or anything else → None."""
    match = re.match(r"^(\d+)\.(\d+)", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def saves_native_format(version: str | None) -> bool:
    """SageMaker XGBoost 1.3-1 and later save `xgboost-model` in XGBoost's own format (Booster.save_model);
    earlier versions pickle the Booster (see "Use XGBoost model files" in the SageMaker XGBoost docs)."""
    parsed = xgboost_version(version)
    return parsed is None or parsed >= (1, 3)
