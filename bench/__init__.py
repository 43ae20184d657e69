"""Benchmarks of eventapp: `python -m bench NAME [--db sqlite|postgres]`.

Each benchmark is a module `bench/<name>.py` with `NAME`, `DESCRIPTION` and `run(options)`. It
builds its own data, starts what it needs, measures, stops what it started and prints one JSON
object per figure (bench/harness.py has the shared parts; bench/README.md tells how to add one).
Benchmarks print numbers; they assert nothing about time.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

#: What a module must define to be a benchmark; other modules here are shared helpers.
BENCHMARK_ATTRIBUTES = ("NAME", "DESCRIPTION", "run")


def benchmarks() -> dict[str, ModuleType]:
    """Every benchmark in this package, by name, in alphabetical order."""
    found: dict[str, ModuleType] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        if all(hasattr(module, attribute) for attribute in BENCHMARK_ATTRIBUTES):
            found[module.NAME] = module
    return dict(sorted(found.items()))
