"""The command language (DESIGN.md "Commands"): gdb's verbs, bpftool's nouns.

Each module holds one command family; the registry (bpfdbg.commands.registry) is the
single table that help, completion and the interpreter read. Families are imported the
first time the table is consulted (``registry.all_commands``, ``lookup``), so importing the
registry alone stays cheap and free of import cycles.
"""
