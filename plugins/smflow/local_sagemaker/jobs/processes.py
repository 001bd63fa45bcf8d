"""Reading /proc/<pid>/stat, written once (the job records' process identity and the sandbox's group kill).

Field numbers follow proc_pid_stat(5) (https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html).
"""

from __future__ import annotations

from pathlib import Path


def proc_stat_fields(pid: int | str) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name — index 0 is field 3 (state), 2 is the process
    group, 19 the start time in clock ticks — or None when the process (or procfs) is not there."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after its closing paren.
    return raw[raw.rfind(")") + 2:].split()
