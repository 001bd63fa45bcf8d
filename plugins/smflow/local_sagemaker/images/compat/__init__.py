"""Modules the SageMaker framework images ship that cannot be installed on this machine's Python.

This folder (not the package itself) goes on the PYTHONPATH of jobs that run in an image environment, after
the environment's own site-packages, so an installed module always wins over these.
"""

from pathlib import Path

COMPAT_PATH = Path(__file__).resolve().parent
