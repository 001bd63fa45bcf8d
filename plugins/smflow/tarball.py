"""The one way smflow packs model.tar.gz / sourcedir.tar.gz, shared by both executors (kept import-light:
the local job runner uses it and must start fast)."""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from pathlib import Path


def pack_tarball(source: Path, target: Path, dependencies: Sequence[Path] = ()) -> None:
    """A directory's contents (packed from inside it, as SageMaker packs model.tar.gz and sourcedir.tar.gz), or
    one file, as a .tar.gz. gzip level 6, what `tar czf` uses: tarfile's default 9 is ~10x slower for ~2%.

    `dependencies`: folders added at the top level under their own names, as the SDK's `tar_and_upload_dir`
    packs an estimator's `dependencies` beside its source_dir."""
    with tarfile.open(target, "w:gz", compresslevel=6) as tar:
        for item in sorted(source.iterdir()) if source.is_dir() else [source]:
            tar.add(item, arcname=item.name)
        for folder in dependencies:
            tar.add(folder, arcname=folder.name)
