"""`modules.import_module`: load the user's inference module by name from a folder on sys.path."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType


def import_module(name: str, path: str | None = None) -> ModuleType:
    if path and path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module(name.removesuffix(".py"))
