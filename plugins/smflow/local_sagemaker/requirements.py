"""One requirements.txt policy for every local container: training, batch transform and serving.

SageMaker's framework containers pip-install `code/requirements.txt` when they start (sagemaker-training-
toolkit for training, sagemaker-inference-toolkit for serving and transform). Locally the policy is the
same for all of them: install what this environment does not already satisfy, into a per-job target
directory put first on the code's path, never into smflow's own environment. A requirement counts as
satisfied when its distribution is installed at a version its specifier allows (pre-releases accepted;
extras not checked; a line whose marker is false is skipped).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from smflow.errors import SmflowError

REQUIREMENTS_FILE = "requirements.txt"
ALREADY_SATISFIED = "requirements.txt is already satisfied by this environment; nothing to install"


class RequirementsInstallError(SmflowError, RuntimeError):
    """pip could not install the requirements this environment lacks."""

    def __init__(self, exit_code: int, missing: list[str]):
        super().__init__(f"pip exit code {exit_code}; not satisfied here: {', '.join(missing)}")
        self.exit_code = exit_code
        self.missing = missing


def _strip_comment(raw: str) -> str:
    return re.sub(r"(^|\s)#.*$", "", raw).strip()


def requirement_problem(line: str) -> str | None:
    """Why one requirement line (not an option) is not satisfied here, or None when it is."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(line)
    except InvalidRequirement as e:
        return f"{line!r} is not a valid requirement ({e})"
    if requirement.marker is not None and not requirement.marker.evaluate():
        return None
    try:
        installed = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        return f"{line} — not installed"
    if requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
        return f"{line} — installed version is {installed}"
    return None


def unsatisfied_requirements(lines: Iterable[str]) -> list[str]:
    """requirements.txt lines this environment does not already satisfy; options (-r, -e, --index-url) count,
    since only pip can tell what they bring."""
    missing = []
    for raw in lines:
        line = _strip_comment(raw)
        if line and (line.startswith("-") or requirement_problem(line) is not None):
            missing.append(line)
    return missing


def requirement_problems(path: Path, seen: set[Path] | None = None) -> list[str]:
    """`file:line: problem` for each unsatisfied requirement of a file, following `-r` includes; other pip
    options say how to install, not what, and are skipped."""
    seen = set() if seen is None else seen
    if path.resolve() in seen:
        return []
    seen.add(path.resolve())
    problems: list[str] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = _strip_comment(raw)
        if not line:
            continue
        where = f"{path.name}:{lineno}"
        if line.startswith(("-r ", "--requirement ")):
            nested = path.parent / line.split(None, 1)[1].strip()
            if not nested.is_file():
                problems.append(f"{where}: included file {nested} does not exist")
            else:
                problems.extend(requirement_problems(nested, seen))
            continue
        if line.startswith("-"):
            continue
        problem = requirement_problem(line)
        if problem is not None:
            problems.append(f"{where}: {problem}")
    return problems


def pip_install_command(requirements: Path, target: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--target", str(target), "-r", str(requirements)]


def satisfy_requirements(code_dir: Path, target: Path, *, say: Callable[[str], None], output: IO[str],
                         timeout: float | None = None) -> Path | None:
    """The policy: install `code_dir/requirements.txt` into `target` unless this environment satisfies it.

    Returns `target` when something was installed (put it on the code's path), else None. pip's output goes
    to `output`; a failed install raises RequirementsInstallError, a timeout `subprocess.TimeoutExpired`.
    """
    requirements = code_dir / REQUIREMENTS_FILE
    if not requirements.is_file():
        return None
    missing = unsatisfied_requirements(requirements.read_text(encoding="utf-8").splitlines())
    if not missing:
        say(ALREADY_SATISFIED)
        return None
    say(f"installing requirements.txt into {target} (not satisfied here: {', '.join(missing)})")
    output.flush()
    done = subprocess.run(pip_install_command(requirements, target), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, check=False)
    output.write(done.stdout + done.stderr)
    output.flush()
    if done.returncode != 0:
        raise RequirementsInstallError(done.returncode, missing)
    return target
