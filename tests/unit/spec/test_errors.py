"""Every broken spec in tests/fixtures/broken reports exactly the positioned errors its `# expect:` lines name."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from smflow.cli import main
from tests.conftest import FIXTURES

BROKEN = sorted((FIXTURES / "broken").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (.+)$", re.M)


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_spec_reports_every_expected_error(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = EXPECT.findall(path.read_text())
    assert expected, f"{path} has no '# expect:' lines"
    code = main(["validate", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    for want in expected:
        assert any(line.startswith(f"{path}:{want}") for line in lines), (want, lines)
    # one line per error, each of the documented form
    assert len(lines) == len(expected), lines
    for line in lines:
        assert re.match(rf"^{re.escape(str(path))}:\d+:\d+: \S+: .+", line), line


def test_all_errors_of_a_file_are_reported_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    main(["validate", str(FIXTURES / "broken" / "bad_reference.yaml")])
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_validate_passes_on_every_example_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    from tests.conftest import PIPELINES

    assert main(["validate", str(PIPELINES)]) == 0
    out = capsys.readouterr().out
    assert "ok: " in out and "diabetes" in out
