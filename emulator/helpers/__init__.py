"""Helper functions a program can call: a registry of (id, name, signature, implementation)."""

from emulator.helpers.registry import HelperContext, HelperSpec, HelperTable, helper_table

__all__ = ["HelperContext", "HelperSpec", "HelperTable", "helper_table"]
