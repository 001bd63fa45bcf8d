"""smflow's own exceptions for problems a user can fix, each mapped by the CLI to its exit code.

`SmflowError` is the root of the hierarchy. `UserError` (exit 1): the input or the environment is wrong — a
message says what and how to fix it.
`UsageError` (exit 2): the command line itself is wrong. Spec problems are `smflow.spec.errors.SpecError`
(exit 1, one positioned line each). Anything else reaching the CLI is an internal error (exit 3).
"""

from __future__ import annotations


class SmflowError(Exception):
    """The root of every exception smflow raises on purpose: `except SmflowError` catches them all.

    Each subclass also derives from the built-in it stands for (ValueError, RuntimeError, …), so code that
    catches those keeps working.
    """


class UserError(SmflowError):
    """Something the user can fix (a file, a setting, the state of the smflow home); `str()` says how."""


class UsageError(UserError):
    """A command-line argument that cannot work as given."""
