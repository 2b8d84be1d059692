"""The command language (DESIGN.md "Commands"): gdb's verbs, bpftool's nouns.

Importing this package registers every command family. Each module holds one family; the
registry (bpfdbg.commands.registry) is the single table that help, completion and the
interpreter read.
"""

from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("registry", "interpreter", "common"):
        importlib.import_module(f"{__name__}.{_module.name}")
