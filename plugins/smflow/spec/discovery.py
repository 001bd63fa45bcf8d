"""Where pipeline specs live: native `pipeline.yaml` files and seed-framework projects (no Airflow imports)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NATIVE_NAMES = ("pipeline.yaml", "pipeline.yml")


@dataclass(frozen=True)
class PipelineSource:
    """One pipeline's spec files: a native pipeline.yaml, or the seed-framework confs of one project."""

    files: tuple[Path, ...]
    seed: bool = False

    @property
    def label(self) -> str:
        return str(self.files[0]) if len(self.files) == 1 else f"{self.files[0].parent.parent.parent}/*/conf/conf.yaml"


def discover(root: Path) -> list[PipelineSource]:
    """Native `pipeline.yaml` / `*.pipeline.yaml` files, and seed projects (`<project>/*/conf/conf.yaml`)."""
    sources: list[PipelineSource] = []
    if not root.is_dir():
        return sources
    seed_projects: dict[Path, list[Path]] = {}
    for path in sorted(root.rglob("*.y*ml")):
        if path.name in NATIVE_NAMES or path.name.endswith((".pipeline.yaml", ".pipeline.yml")):
            sources.append(PipelineSource((path,)))
        elif path.name in {"conf.yaml", "conf.yml"} and path.parent.name == "conf":
            seed_projects.setdefault(path.parent.parent.parent, []).append(path)
    sources.extend(PipelineSource(tuple(sorted(files)), seed=True) for files in seed_projects.values())
    return sources
