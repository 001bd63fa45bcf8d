"""The request fingerprint: what decides whether an earlier job may be reused."""

from __future__ import annotations

from pathlib import Path

from smflow.compile.fingerprint import request_fingerprint


def test_fingerprint_sees_a_repointed_symlinked_folder(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    code = tmp_path / "code"
    code.mkdir()
    (code / "lib").symlink_to(tmp_path / "a")
    first = request_fingerprint({}, upload_sources=[str(code)])
    (code / "lib").unlink()
    (code / "lib").symlink_to(tmp_path / "b")
    assert request_fingerprint({}, upload_sources=[str(code)]) != first


def test_same_inputs_same_fingerprint_and_any_edit_changes_it(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text("print(1)\n")
    request = {"HyperParameters": {"n": "1"}}
    first = request_fingerprint(request, upload_sources=[str(tmp_path)])
    assert request_fingerprint(dict(request), upload_sources=[str(tmp_path)]) == first
    assert request_fingerprint({"HyperParameters": {"n": "2"}}, upload_sources=[str(tmp_path)]) != first
    script.write_text("print(2)\n")
    assert request_fingerprint(request, upload_sources=[str(tmp_path)]) != first
