"""The monitor's optional dependencies, imported only when a monitor command runs.

``zerotls --help`` and every other command must stay fast and must work without DuckDB,
Arrow, numpy or scikit-learn installed; the monitor asks for them here and turns a missing
one into a :class:`~zerotls.errors.ConfigError` that says how to install them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from zerotls.errors import ConfigError

__all__ = ["require"]

_MODULES = ("duckdb", "pyarrow", "numpy", "sklearn")


def require(*names: str) -> tuple[ModuleType, ...]:
    """Import the named optional modules (all four by default) or explain how to get them.

    Raises:
        ConfigError: one of them is not installed.
    """
    modules = []
    for name in names or _MODULES:
        try:
            modules.append(importlib.import_module(name))
        except ImportError as exc:
            raise ConfigError(
                f"the monitor needs {name}, which is not installed: "
                "install zerotls[monitor] (pip install 'zerotls[monitor]')"
            ) from exc
    return tuple(modules)
