"""One requirements.txt policy for every local container: training, batch transform and serving.

SageMaker's framework containers pip-install `code/requirements.txt` when they start (sagemaker-training-
toolkit for training, sagemaker-inference-toolkit for serving and transform). Locally the policy is the
same for all of them: install what this environment does not already satisfy, into a per-job target
directory put first on the code's path, never into smflow's own environment. A requirement counts as
satisfied when its distribution is installed at a version its specifier allows (pre-releases accepted;
extras not checked; a line whose marker is false is skipped).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping
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


# Run by the job's interpreter: every installed distribution and its version, as JSON (stdlib only).
_LIST_DISTRIBUTIONS = ("import importlib.metadata as m, json, sys; "
                       "json.dump({d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name']}, "
                       "sys.stdout)")


def installed_versions(interpreter: str) -> dict[str, str]:
    """Distribution → version installed for another Python (an image environment), by asking it."""
    done = subprocess.run([interpreter, "-I", "-c", _LIST_DISTRIBUTIONS], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RequirementsInstallError(done.returncode, [f"cannot list the packages of {interpreter}: "
                                                         f"{done.stderr.strip()[-300:]}"])
    try:
        listing = json.loads(done.stdout)
    except ValueError as e:
        raise RequirementsInstallError(done.returncode, [f"cannot list the packages of {interpreter}: {e}"]) from e
    from packaging.utils import canonicalize_name  # imported when needed: the job runner starts lighter

    return {canonicalize_name(name): version for name, version in listing.items()}


def requirement_problem(line: str, installed: Mapping[str, str] | None = None) -> str | None:
    """Why one requirement line (not an option) is not satisfied, or None when it is: in this process's
    environment, or in `installed` (another interpreter's distributions, from `installed_versions`). Markers
    are evaluated here; image environments are built on this same Python, so they evaluate alike."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        requirement = Requirement(line)
    except InvalidRequirement as e:
        return f"{line!r} is not a valid requirement ({e})"
    if requirement.marker is not None and not requirement.marker.evaluate():
        return None
    try:
        if installed is not None:
            installed_version = installed[canonicalize_name(requirement.name)]
        else:
            installed_version = metadata.version(requirement.name)
    except (KeyError, metadata.PackageNotFoundError):
        return f"{line} — not installed"
    if requirement.specifier and not requirement.specifier.contains(installed_version, prereleases=True):
        return f"{line} — installed version is {installed_version}"
    return None


def unsatisfied_requirements(lines: Iterable[str], installed: Mapping[str, str] | None = None) -> list[str]:
    """requirements.txt lines this environment (or `installed`, see requirement_problem) does not already
    satisfy; options (-r, -e, --index-url) count, since only pip can tell what they bring."""
    missing = []
    for raw in lines:
        line = _strip_comment(raw)
        if line and (line.startswith("-") or requirement_problem(line, installed) is not None):
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


def pip_install_command(requirements: Path, target: Path, interpreter: str | None = None) -> list[str]:
    return [interpreter or sys.executable, "-m", "pip", "install", "--target", str(target), "-r", str(requirements)]


def satisfy_requirements(code_dir: Path, target: Path, *, say: Callable[[str], None], output: IO[str],
                         timeout: float | None = None, interpreter: str | None = None) -> Path | None:
    """The policy: install `code_dir/requirements.txt` into `target` unless the environment satisfies it.

    The environment is the one of `interpreter` (the job's, e.g. an image environment), by default this
    process's. Returns `target` when something was installed (put it on the code's path), else None. pip's
    output goes to `output`; a failed install raises RequirementsInstallError, a timeout
    `subprocess.TimeoutExpired`.
    """
    requirements = code_dir / REQUIREMENTS_FILE
    if not requirements.is_file():
        return None
    other = interpreter is not None and interpreter != sys.executable
    installed = installed_versions(str(interpreter)) if other else None
    missing = unsatisfied_requirements(requirements.read_text(encoding="utf-8").splitlines(), installed)
    if not missing:
        say(ALREADY_SATISFIED)
        return None
    say(f"installing requirements.txt into {target} (not satisfied here: {', '.join(missing)})")
    output.flush()
    done = subprocess.run(pip_install_command(requirements, target, interpreter), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, check=False)
    output.write(done.stdout + done.stderr)
    output.flush()
    if done.returncode != 0:
        raise RequirementsInstallError(done.returncode, missing)
    return target
