"""S3UploadMode `Continuous` for processing outputs: files are uploaded while the job runs, not only at its end.

SageMaker uploads a Continuous output's files as the container writes them, so a long job's partial results
(checkpoints, logs, per-shard files) appear in S3 before it ends (ProcessingS3Output, CreateProcessingJob API
reference). Here a background thread scans those folders once a second and uploads each file once its size
and modification time have held still for one scan — a file still being written is not uploaded half-done.
Every file is uploaded again at the end of the job, as EndOfJob outputs are, so the final state always wins.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from smflow.local_sagemaker.store import LocalStore

SCAN_SECONDS = 1.0


class ContinuousUploader:
    """Uploads settled files of `folders` (host folder, S3 prefix) in a daemon thread until `stop()`."""

    def __init__(self, store: LocalStore, folders: Sequence[tuple[Path, str]], say: Callable[[str], None],
                 interval: float = SCAN_SECONDS):
        self.store = store
        self.folders = list(folders)
        self.say = say
        self.interval = interval
        self.seen: dict[Path, tuple[int, int]] = {}  # last scan's (size, mtime) of every file
        self.uploaded: dict[Path, tuple[int, int]] = {}  # the version of each file already uploaded
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="continuous-upload", daemon=True)

    def __enter__(self) -> ContinuousUploader:
        if self.folders:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.scan()
            except OSError as e:  # a folder removed or a file vanishing mid-copy: the end-of-job upload covers it
                self.say(f"continuous upload: skipped a scan ({e})")

    def scan(self) -> None:
        for folder, prefix in self.folders:
            if not folder.is_dir() or folder.is_symlink():
                continue
            for dirpath, _dirs, files in os.walk(folder):
                for name in files:
                    self._consider(Path(dirpath) / name, folder, prefix)

    def _consider(self, file: Path, folder: Path, prefix: str) -> None:
        if file.is_symlink():
            return  # outputs are uploaded from real files only, as on SageMaker
        stat = file.stat()
        version = (stat.st_size, stat.st_mtime_ns)
        settled = self.seen.get(file) == version
        self.seen[file] = version
        if settled and self.uploaded.get(file) != version:
            uri = f"{prefix.rstrip('/')}/{file.relative_to(folder).as_posix()}"
            self.store.upload_file(file, uri)
            self.uploaded[file] = version
            self.count += 1
            self.say(f"continuous upload: {uri}")
