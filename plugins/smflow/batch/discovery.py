"""An object listing → batches: every matching object is one batch, or, with a marker (`_SUCCESS`), every folder
holding the marker is one batch made of its matching objects.

A batch's identity is its id (the object's or folder's key relative to the input prefix) and its digest over
the objects and their ETags: the same batch listed again has the same digest, while a batch whose objects
changed gets a new one and is predicted again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any


@dataclass(frozen=True)
class Batch:
    """One unit of batch prediction: `objects` are (uri, etag) pairs, sorted by URI."""

    batch_id: str
    objects: tuple[tuple[str, str], ...]
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        hasher = hashlib.sha256(self.batch_id.encode())
        for uri, etag in self.objects:
            hasher.update(b"\x00" + uri.encode() + b"\x00" + etag.encode())
        object.__setattr__(self, "digest", hasher.hexdigest()[:16])

    @property
    def prefix(self) -> str:
        """The folder all the batch's objects share (ending in '/'): a transform manifest's `prefix`."""
        first = self.objects[0][0]
        common = first[: first.rfind("/") + 1]
        for uri, _ in self.objects[1:]:
            while not uri.startswith(common):
                common = common[: common.rstrip("/").rfind("/") + 1]
        return common

    def as_json(self) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "digest": self.digest, "objects": [list(o) for o in self.objects]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Batch:
        return cls(str(data["batch_id"]), tuple((str(u), str(e)) for u, e in data["objects"]))


def folder_prefix(uri: str) -> str:
    """An input prefix as a folder: `s3://b/in` and `s3://b/in/` both list `s3://b/in/...` only."""
    return uri if uri.endswith("/") else uri + "/"


def find_batches(listing: Iterable[tuple[str, str]], input_prefix: str, pattern: str,
                 marker: str | None) -> list[Batch]:
    """The complete batches in `listing` ((uri, etag) pairs under `input_prefix`), sorted by batch id.

    Without `marker` each object whose key relative to the prefix matches `pattern` is its own batch. With a
    marker, a folder holding the marker object is a batch of the folder's pattern-matching objects (the marker
    is written last by the producer, so the folder is complete); folders without it are still arriving, and a
    marked folder without matching objects is not a batch. Markers in the input prefix itself are ignored:
    a batch is a folder below it.
    """
    prefix = folder_prefix(input_prefix)
    relative = {uri[len(prefix):]: (uri, etag) for uri, etag in listing if uri.startswith(prefix)}
    if marker is None:
        return [Batch(key, ((uri, etag),)) for key, (uri, etag) in sorted(relative.items())
                if fnmatchcase(key, pattern)]
    folders: dict[str, list[tuple[str, str]]] = {}
    marked: set[str] = set()
    for key, entry in relative.items():
        folder, _, name = key.rpartition("/")
        if not folder:
            continue
        if name == marker:
            marked.add(folder)
        elif fnmatchcase(key[len(folder) + 1:], pattern) or fnmatchcase(key, pattern):
            folders.setdefault(folder, []).append(entry)
    return [Batch(folder, tuple(sorted(folders[folder]))) for folder in sorted(marked) if folders.get(folder)]
