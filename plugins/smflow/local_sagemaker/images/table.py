"""The framework images smflow can stand in for, and the key packages each pins, as the public containers do.

One `FrameworkImage` per (framework, version) the SageMaker Python SDK's `image_uris.retrieve` knows: the
Python the image runs, the packages its Dockerfiles and requirements install (`Pin.version`, the image's
exact version), and the SageMaker toolkits it ships (`sagemaker-training` for `from sagemaker_training import
environment`, `sagemaker-inference` for serving). `source` names the public files each pin comes from.

This machine has one Python (3.11), and many images are older (3.7-3.10): a pinned version that publishes
no wheel for this Python cannot be installed. Such a pin carries, in `instead`, the nearest version that
can — the lowest release at or above the image's with a wheel for this Python, found with
`uv pip compile --python-version 3.11 --no-build --no-deps --resolution lowest-direct "<name>>=<version>"`
(`tests/integration/test_image_environment_table.py` re-derives them). The job log and `smflow validate`
say which versions run instead. `bounds` are not pins: they keep unpinned dependencies within what the
image's era of packages worked with (e.g. `numpy<2` under a scikit-learn built against numpy 1.x).

Toolkit versions: where a container's requirements pin them, that pin; otherwise the newest release of
the same major line, 4.9.0 / 1.10.1. A toolkit pin that installs but cannot be imported on this Python is
substituted like a pin without wheels: sagemaker-training before 4.3.1 uses `collections.Mapping`, removed
in Python 3.10, so 4.0.1 runs as 4.3.1 (the lowest 4.x that imports; `sagemaker_training.environment` was
checked for 4.0.1, 4.1.0, 4.1.6, 4.2.0, 4.2.10, 4.3.0, 4.3.1).

Every environment also has `packaging` (the images' conda and pip bases ship it, and smflow's own container
programs use it to read requirements) and a setuptools that still has `pkg_resources` (`setuptools<81`),
as the images' setuptools does: the inference toolkit before 1.10 and many scripts import it.
"""

from __future__ import annotations

from dataclasses import dataclass

SKLEARN_REPO = "https://github.com/aws/sagemaker-scikit-learn-container"
XGBOOST_REPO = "https://github.com/aws/sagemaker-xgboost-container"
DLC_NOTES = "https://github.com/aws/deep-learning-containers/releases"
TRAINING_TOOLKIT_LATEST = "4.9.0"
INFERENCE_TOOLKIT_LATEST = "1.10.1"
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class Pin:
    """One distribution as an image ships it; `version` None means the image does not pin it."""

    name: str
    version: str | None = None
    instead: tuple[tuple[str, str], ...] = ()  # (Python "3.11", nearest installable version) when it differs

    def version_for(self, python: str) -> str | None:
        """The version to install on `python` ("3.11"): the image's, unless it has no wheel there."""
        return dict(self.instead).get(python, self.version)


@dataclass(frozen=True)
class FrameworkImage:
    """One framework image version: what runs inside it, and where that is written down."""

    framework: str  # the SDK's framework name: sklearn, xgboost, pytorch, tensorflow
    version: str  # the SDK's framework version (the image tag's version part): 1.2-1, 2.1.0
    python: str  # the image's Python, major.minor
    packages: tuple[Pin, ...]
    toolkits: tuple[Pin, ...]
    source: str
    bounds: tuple[str, ...] = ()
    extra_index_url: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.framework, self.version)


def _pin(name: str, version: str | None, py311: str | None = None) -> Pin:
    return Pin(name, version, (("3.11", py311),) if py311 else ())


def _training_toolkit(version: str | None = None) -> Pin:
    return _pin("sagemaker-training", version or TRAINING_TOOLKIT_LATEST)


def _inference_toolkit(version: str | None = None) -> Pin:
    return _pin("sagemaker-inference", version or INFERENCE_TOOLKIT_LATEST)


BASE_PACKAGES = (Pin("packaging"),)
BASE_BOUNDS = ("setuptools<81",)

_SKLEARN = (
    FrameworkImage(
        "sklearn", "0.23-1", "3.7",
        packages=(_pin("scikit-learn", "0.23.2", "1.1.3"),),
        toolkits=(_training_toolkit(), _inference_toolkit()),
        bounds=("numpy<2", "pandas<2", "scipy<1.12"),
        source=f"{SKLEARN_REPO}/blob/master/docker/0.23-1/base/Dockerfile.cpu (Python 3.7.10, "
               "scikit-learn==0.23.2); numpy, pandas and scipy are not pinned there",
    ),
    FrameworkImage(
        "sklearn", "1.0-1", "3.7",
        packages=(_pin("scikit-learn", "1.0.2", "1.1.3"), _pin("numpy", "1.19.5", "1.23.2"),
                  _pin("pandas", "1.1.3", "1.5.0"), _pin("scipy", "1.5.3", "1.9.2"),
                  _pin("boto3", "1.16.4"), _pin("botocore", "1.19.4"), _pin("six", "1.15.0")),
        toolkits=(_pin("sagemaker-training", "4.0.1", "4.3.1"), _inference_toolkit("1.2.0")),
        source=f"{SKLEARN_REPO}/blob/master/docker/1.0-1/base/Dockerfile.cpu (Python 3.7.10, "
               "scikit-learn==1.0.2) and requirements.txt of the 1.0-1 release (numpy, pandas, scipy, boto3, "
               "sagemaker-training==4.0.1, sagemaker-inference==1.2.0)",
    ),
    FrameworkImage(
        "sklearn", "1.2-1", "3.9",
        packages=(_pin("scikit-learn", "1.2.1"), _pin("numpy", "1.24.1"), _pin("pandas", "1.1.3", "1.5.0"),
                  _pin("scipy", "1.8.0", "1.9.2")),
        toolkits=(_training_toolkit(), _inference_toolkit()),
        source=f"{SKLEARN_REPO}/blob/master/docker/1.2-1/base/Dockerfile.cpu (Python 3.9, "
               "scikit-learn==1.2.1) and requirements.txt of the 1.2-1 release (numpy==1.24.1, pandas==1.1.3, "
               "scipy==1.8.0)",
    ),
    FrameworkImage(
        "sklearn", "1.4-2", "3.10",
        packages=(_pin("scikit-learn", "1.4.2"), _pin("numpy", "2.1.0"), _pin("pandas", "2.2.3"),
                  _pin("pyarrow", "17.0.0"), _pin("scipy", None)),
        toolkits=(_training_toolkit(), _inference_toolkit()),
        source=f"{SKLEARN_REPO}/blob/master/docker/1.4-2/base/Dockerfile.cpu (Python 3.10, numpy==2.1.0, "
               f"scikit-learn==1.4.2, pyarrow==17.0.0); pandas==2.2.3 from requirements.txt ({SKLEARN_REPO}/pull/272 "
               "keeps it); scipy is not pinned",
    ),
)

# The open-source XGBoost container (built-in algorithm and framework mode) also ships scikit-learn, pandas,
# numpy and scipy: its requirements.txt is installed by every final Dockerfile.
_XGBOOST_REQUIREMENTS_PY37 = (
    _pin("numpy", "1.21.6", "1.23.2"), _pin("pandas", "1.2.4", "1.5.0"), _pin("scikit-learn", "0.24.1", "1.1.3"),
    _pin("scipy", "1.6.2", "1.9.2"),
)
_XGBOOST_REQUIREMENTS_PY38 = (
    _pin("numpy", "1.19.2", "1.23.2"), _pin("pandas", "1.2.4", "1.5.0"), _pin("scikit-learn", "0.24.1", "1.1.3"),
    _pin("scipy", "1.6.2", "1.9.2"),
)
_XGBOOST = (
    FrameworkImage(
        "xgboost", "1.3-1", "3.7",
        packages=(_pin("xgboost", "1.3.3"), *_XGBOOST_REQUIREMENTS_PY37),
        toolkits=(_training_toolkit(), _inference_toolkit("1.5.5")),
        source=f"{XGBOOST_REPO}/blob/master/docker/1.3-1/base/Dockerfile.cpu (Python 3.7.10, xgboost==1.3.3); "
               "test/resources/versions/train.py, which asserts the Python 3.7 image's versions (numpy==1.21.6, "
               "pandas==1.2.4, scikit-learn==0.24.1, scipy==1.6.2, sagemaker-inference==1.5.5)",
    ),
    FrameworkImage(
        "xgboost", "1.5-1", "3.8",
        packages=(_pin("xgboost", "1.5.2"), *_XGBOOST_REQUIREMENTS_PY38),
        toolkits=(_training_toolkit(), _inference_toolkit("1.5.5")),
        source=f"{XGBOOST_REPO}/blob/master/docker/1.5-1/base/Dockerfile.cpu (Python 3.8.13, xgboost==1.5.2); "
               "requirements.txt installed by docker/1.5-1/final/Dockerfile.cpu (numpy==1.19.2, pandas==1.2.4, "
               "scikit-learn==0.24.1, scipy==1.6.2, sagemaker-inference==1.5.5)",
    ),
    FrameworkImage(
        "xgboost", "1.7-1", "3.8",
        packages=(_pin("xgboost", "1.7.4"), *_XGBOOST_REQUIREMENTS_PY38),
        toolkits=(_training_toolkit(), _inference_toolkit("1.5.5")),
        source=f"{XGBOOST_REPO}/blob/master/docker/1.7-1/base/Dockerfile.cpu (Python 3.8.13, xgboost==1.7.4); "
               "requirements.txt installed by docker/1.7-1/final/Dockerfile.cpu (numpy==1.19.2, pandas==1.2.4, "
               "scikit-learn==0.24.1, scipy==1.6.2, sagemaker-inference==1.5.5)",
    ),
    FrameworkImage(
        "xgboost", "3.0-5", "3.10",
        packages=(_pin("xgboost", "3.0.5"), _pin("numpy", "2.1.0"), _pin("pandas", "2.2.3"),
                  _pin("pyarrow", "22.0.0"), _pin("scikit-learn", None), _pin("scipy", None)),
        toolkits=(_training_toolkit(), _inference_toolkit()),
        bounds=("scikit-learn<1.8",),
        source=f"{XGBOOST_REPO}/blob/master/docker/3.0-5/base/Dockerfile.cpu (Python 3.10, xgboost==3.0.5, "
               "numpy==2.1.0, pandas==2.2.3, pyarrow==22.0.0); scikit-learn and scipy are not pinned there",
    ),
)

# AWS Deep Learning Containers (CPU images): the framework version and Python are in the image tag
# (`2.1.0-cpu-py310`); companion libraries follow the framework's own compatibility table. CPU wheels come
# from the framework's CPU index, as the CPU images install them.
_PYTORCH = tuple(
    FrameworkImage(
        "pytorch", version, python,
        packages=(_pin("torch", version), _pin("torchvision", vision), _pin("torchaudio", audio), _pin("numpy", None)),
        toolkits=(_training_toolkit(), _inference_toolkit()),
        bounds=("numpy<2",),
        extra_index_url=PYTORCH_CPU_INDEX,
        source=f"{DLC_NOTES} (pytorch-training/-inference {version}-cpu-{'py' + python.replace('.', '')}); "
               f"torchvision {vision} and torchaudio {audio} from https://pytorch.org/get-started/previous-versions/",
    )
    for version, python, vision, audio in (("2.1.0", "3.10", "0.16.0", "2.1.0"), ("2.3.0", "3.11", "0.18.0", "2.3.0"))
)
_TENSORFLOW = tuple(
    FrameworkImage(
        "tensorflow", version, "3.10",
        packages=(_pin("tensorflow-cpu", version), _pin("numpy", None)),
        toolkits=(_training_toolkit(), _inference_toolkit()),
        bounds=("numpy<2",),
        source=f"{DLC_NOTES} (tensorflow-training/-inference {version}-cpu-py310)",
    )
    for version in ("2.13.0", "2.14.1")
)

IMAGES: dict[tuple[str, str], FrameworkImage] = {image.key: image for image in (*_SKLEARN, *_XGBOOST, *_PYTORCH,
                                                                             *_TENSORFLOW)}


def lookup(framework: str, version: str) -> FrameworkImage | None:
    """The table entry for a framework version, or None when smflow has none (the job then runs in its venv)."""
    return IMAGES.get((framework, version))
