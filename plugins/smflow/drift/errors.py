"""The drift library's errors: each names the file, document or setting at fault and says how to fix it.

All are `smflow.errors.UserError`s (the CLI maps them to exit 1) and `ValueError`s (plain callers can catch
those).
"""

from __future__ import annotations

from smflow.errors import UserError


class DataFileError(UserError, ValueError):
    """A data file (CSV or Parquet) that is missing, unreadable, empty or not in a format smflow reads."""


class BaselineError(UserError, ValueError):
    """A baseline sketch document that is not valid JSON, not a baseline, or of an unknown format version."""


class DriftConfigError(UserError, ValueError):
    """A drift setting (statistic, threshold, share) that cannot work; the message names its key path."""
