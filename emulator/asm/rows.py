"""Finding opcode-table rows from what a line of text says.

The LLVM dialect names an instruction by its shape (form, width, operation), the
conformance dialect by mnemonic; both questions are answered from
:data:`emulator.isa.table.ROWS`, never from a list of opcodes kept here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from emulator.isa.table import ROWS, Form, OpInfo, rows_by_mnemonic


@cache
def find_row(
    form: Form,
    *,
    is64: bool | None = None,
    op: int | None = None,
    size: int | None = None,
    signed: bool | None = None,
    variant: int | None = None,
) -> OpInfo | None:
    """The one row of ``form`` matching every given attribute, or None."""
    found = [
        row
        for row in ROWS
        if row.form is form
        and (is64 is None or row.is64 == is64)
        and (op is None or row.op == op)
        and (size is None or row.size == size)
        and (signed is None or row.signed == signed)
        and (variant is None or row.variant == variant)
    ]
    return found[0] if len(found) == 1 else None


_ALU_64_ALIAS_FORMS = (Form.ALU_REG, Form.ALU_IMM, Form.NEG)


@cache
def conformance_mnemonics() -> Mapping[str, tuple[OpInfo, ...]]:
    """Mnemonic -> rows, plus the aliases the suite's assembler accepts.

    Aliases: ``add64`` etc. for the bare 64-bit ALU names and ``swap16/32/64`` for
    ``bswap16/32/64``.
    """
    index = dict(rows_by_mnemonic())
    for name, rows in list(index.items()):
        if all(r.form in _ALU_64_ALIAS_FORMS and r.is64 for r in rows):
            index.setdefault(name + "64", rows)
        if name.startswith("bswap"):
            index.setdefault(name[1:], rows)
    return MappingProxyType(index)


@cache
def max_mnemonic_words() -> int:
    return max(len(name.split()) for name in conformance_mnemonics())
