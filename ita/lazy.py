"""Lazy package exports: a package names its public functions without importing their modules, so a command
loads only what it uses (``ita setups list`` never loads pandas, the detectors or TA-Lib).

``lazy_exports(__name__, {"evaluate": "ita.setups.evaluate", ...})`` at the end of a package's ``__init__``:

* a name is imported from its module on first access (:pep:`562` module ``__getattr__``) and kept;
* ``from pkg import name`` and ``pkg.name`` work as with eager imports, ``dir(pkg)`` lists the names;
* a function named like its own submodule (``ita.setups.evaluate.evaluate``, ``ita.detectors.fvg.fvg``) stays
  the function: importing the submodule (``from ita.setups.evaluate import warmup`` anywhere) would otherwise
  bind the package attribute to the submodule object, so the package's module class refuses exactly that
  binding — the same state an eager ``from .evaluate import evaluate`` in ``__init__`` leaves.
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: dict[str, str]) -> None:
    """Make ``where`` (exported name → the module defining it) the lazy exports of module ``package``.

    Only the package's own submodules may be named (:class:`ValueError` otherwise): the import-linter contracts
    in ``pyproject.toml`` see a package's imports, and a lazy export must not hide a forbidden one. Raises
    :class:`AttributeError` on access to a name that is neither exported nor a submodule (as Python does); an
    exported name missing from its module raises that module's :class:`AttributeError` on access."""
    outside = sorted({m for m in where.values() if not m.startswith(f"{package}.")})
    if outside:
        raise ValueError(f"lazy_exports({package!r}): only its own submodules may be named, not {outside}")
    mod = sys.modules[package]
    shadowed = {name for name, module in where.items() if module == f"{package}.{name}"}

    def __getattr__(name: str) -> Any:  # noqa: N807 - the PEP 562 hook
        if name in where:
            value = getattr(importlib.import_module(where[name]), name)
            types.ModuleType.__setattr__(mod, name, value)
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(mod.__dict__) | set(where))

    class _LazyPackage(types.ModuleType):
        def __setattr__(self, name: str, value: Any) -> None:
            if name in shadowed and isinstance(value, types.ModuleType):
                return  # the import system binding a submodule over the function of the same name
            super().__setattr__(name, value)

    mod.__getattr__ = __getattr__
    mod.__dir__ = __dir__
    mod.__class__ = _LazyPackage
