"""A framework image → the environment to build for it on this Python, and how that differs from the image.

A pure function of the table entry and the Python version, so `smflow validate` can say what a job will
run without building anything, and the job runner and validate always agree.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass

from smflow.local_sagemaker.images.table import BASE_BOUNDS, BASE_PACKAGES, FrameworkImage, Pin, lookup
from smflow.local_sagemaker.images.uri import ImageRef, parse_image_uri

BUILD_FORMAT = 1  # bump when how an environment is built changes: every environment key changes with it


@dataclass(frozen=True)
class Substitution:
    """A package (or Python) that runs here at another version than the image's."""

    name: str
    image_version: str
    local_version: str

    def __str__(self) -> str:
        return f"{self.name} {self.local_version} instead of {self.image_version}"


@dataclass(frozen=True)
class EnvironmentPlan:
    """What to install for one framework image on this Python, and under which cache key."""

    image: FrameworkImage
    ref: ImageRef
    python: str
    requirements: tuple[str, ...]  # requirement strings for `uv pip install`
    wheels_only: tuple[str, ...]  # distributions that must come as wheels (a source build would take ages)
    substitutions: tuple[Substitution, ...]
    key: str

    @property
    def python_substitution(self) -> Substitution | None:
        if self.image.python == self.python:
            return None
        return Substitution("Python", self.image.python, self.python)

    def pinned(self) -> list[tuple[str, str]]:
        """(distribution, version to install) of every pinned package, framework packages first."""
        out = []
        for pin in (*self.image.packages, *self.image.toolkits):
            version = pin.version_for(self.python)
            if version is not None:
                out.append((pin.name, version))
        return out

    def differences(self) -> str:
        """What runs here at other versions than in the image, and why; '' when it runs as the image."""
        parts = []
        if self.python_substitution is not None:
            parts.append(f"{self.python_substitution} (the Python of this machine)")
        if self.substitutions:
            parts.append(", ".join(str(s) for s in self.substitutions)
                         + f" (the image's versions do not install or import on Python {self.python})")
        return "; ".join(parts)

    def version_warning(self) -> str | None:
        """For `smflow validate`: which package versions cannot match the image here, or None if all do."""
        if not self.substitutions:
            return None
        listed = ", ".join(str(s) for s in self.substitutions)
        return (f"warning: image {self.ref.short} ({self.image.framework} {self.image.version}, Python "
                f"{self.image.python}) runs on the local executor with Python {self.python} and {listed}: the "
                f"image's versions do not install or import on Python {self.python}. Scripts that rely on behaviour of "
                "the image's exact versions may differ locally; set SMFLOW_IMAGE_ENVIRONMENTS=off to run in "
                "smflow's own environment instead")


def current_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _requirement(pin: Pin, python: str) -> str:
    version = pin.version_for(python)
    return pin.name if version is None else f"{pin.name}=={version}"


def plan_for(image: FrameworkImage, ref: ImageRef, python: str | None = None) -> EnvironmentPlan:
    python = python or current_python()
    pins = (*image.packages, *image.toolkits, *BASE_PACKAGES)
    requirements = tuple(_requirement(pin, python) for pin in pins) + image.bounds + BASE_BOUNDS
    substitutions = tuple(
        Substitution(pin.name, pin.version, local)
        for pin in (*image.packages, *image.toolkits)
        if pin.version is not None and (local := pin.version_for(python)) is not None and local != pin.version
    )
    wheels_only = tuple(pin.name for pin in image.packages)
    digest = hashlib.sha256(json.dumps(
        {"format": BUILD_FORMAT, "python": python, "requirements": requirements, "wheels_only": wheels_only,
         "index": image.extra_index_url}, sort_keys=True).encode()).hexdigest()[:10]
    key = f"{image.framework}-{image.version}-py{python}-{digest}"
    return EnvironmentPlan(image, ref, python, requirements, wheels_only, substitutions, key)


def plan_for_image(uri: str, python: str | None = None) -> EnvironmentPlan | None:
    """The environment for an image URI, or None when it is not a framework image smflow's table knows."""
    ref = parse_image_uri(uri)
    if ref is None:
        return None
    image = lookup(ref.framework, ref.version)
    return None if image is None else plan_for(image, ref, python)


def unknown_image_notice(uri: str) -> str:
    """Why an image runs in smflow's own environment, for the job log."""
    ref = parse_image_uri(uri)
    if ref is None:
        what = f"image {uri} is not a SageMaker framework image smflow knows"
    else:
        what = (f"image {ref.short} is {ref.framework} {ref.version}, which is not in smflow's table of framework "
                "images (docs/image-environments.md)")
    return f"{what}; the job runs in smflow's own Python environment ({sys.executable})"
