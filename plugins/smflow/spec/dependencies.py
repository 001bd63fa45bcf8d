"""A training step's `dependencies`: extra folders packed beside the entry point, as the SDK's estimators do.

The SDK's `dependencies=[...]` adds each folder to sourcedir.tar.gz at the top level under its own name
(https://sagemaker.readthedocs.io/en/stable/api/training/estimators.html, `dependencies`), so the training
container unpacks it to /opt/ml/code/<name> and `import <name>` works from the entry point. Here the folders are
named relative to the step's source_dir. What is checked before anything runs: the folder exists, is a folder,
and its name cannot clash with what source_dir already packs at the top level.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from smflow.spec.paths import path_problem, probe, resolved


def dependency_paths(source_dir: Path, values: Sequence[str]) -> list[Path]:
    """Where each dependency is on disk (relative ones are relative to the step's source_dir)."""
    return [resolved(source_dir, value) for value in values]


def dependency_problems(source_dir: Path, values: Sequence[str]) -> list[tuple[int, str]]:
    """(index, message) for every dependency that cannot be packed as the SDK packs it."""
    problems: list[tuple[int, str]] = []
    first: dict[str, int] = {}  # folder name in the tarball → index of the dependency that takes it
    for index, value in enumerate(values):
        problem = path_problem(value)
        if problem:
            problems.append((index, f"dependency {problem}"))
            continue
        folder = resolved(source_dir, value)
        kind, why = probe(folder)
        if why:
            problems.append((index, f"dependency {why}"))
        elif kind == "missing":
            problems.append((index, f"folder {folder} does not exist; dependencies are relative to the step's "
                                    f"source_dir ({source_dir})"))
        elif kind != "dir":
            problems.append((index, f"{folder} is not a folder; dependencies are folders of modules (a single "
                                    "module belongs in source_dir itself)"))
        elif source_dir.is_relative_to(folder):
            problems.append((index, f"{folder} contains source_dir ({source_dir}), which is packed anyway; name "
                                    "the library folder itself"))
        elif folder.parent == source_dir:
            problems.append((index, f"{folder.name} is already a top-level folder of source_dir and is packed "
                                    "with it; remove it from dependencies"))
        elif os.path.lexists(source_dir / folder.name):
            problems.append((index, f"source_dir already has a top-level '{folder.name}', which this dependency "
                                    f"would replace in sourcedir.tar.gz; rename one of them"))
        elif folder.name in first:
            problems.append((index, f"dependencies[{first[folder.name]}] is also packed as '{folder.name}/' (each "
                                    "dependency lands at the top level by its folder name); rename one of them"))
        else:
            first[folder.name] = index
    return problems
