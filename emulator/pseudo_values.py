"""What a pseudo ``ld_imm64`` loads, the same for every backend.

The kernel replaces map references and function addresses in ``lddw`` by pointers before the
JIT runs. bpfdbg's backends resolve them to the fixed addresses of emulator.memory and
emulator.map_memory instead, so that a register holding a map or function pointer has the
same value on every backend. Unresolvable ones are load-time diagnostics, not run faults.
"""

from __future__ import annotations

from emulator.diagnostics import Diagnostic
from emulator.env import Environment
from emulator.isa.fields import PseudoSrc
from emulator.isa.insn import Insn
from emulator.map_memory import MapMemory
from emulator.maps import MapType
from emulator.memory import CODE_BASE


class PseudoValueError(Exception):
    """The ld_imm64 at ``diag.pc`` refers to something this program does not have."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.message)
        self.diag = diag


def pseudo_value(insn: Insn, pc: int, env: Environment) -> int:
    """The 64-bit value of the pseudo ld_imm64 ``insn`` at ``pc``."""
    assert insn.info is not None
    src = insn.info.variant
    if src == PseudoSrc.FUNC:
        return CODE_BASE + (pc + 1 + insn.imm) * 8
    if src in (PseudoSrc.MAP_IDX, PseudoSrc.MAP_IDX_VALUE) and 0 <= insn.imm < len(env.maps):
        if src == PseudoSrc.MAP_IDX:
            return MapMemory.map_ptr(insn.imm)
        spec = env.maps[insn.imm]
        offset = insn.imm_hi & 0xFFFFFFFF
        if spec.type is not MapType.ARRAY or offset >= spec.value_size:
            raise PseudoValueError(
                Diagnostic(
                    pc,
                    "bad-map-value",
                    f"lddw map_idx_value: map {spec.name} is {spec.type.label} with {spec.value_size}-byte "
                    f"values; offset {offset} is not inside value 0",
                    insn.encode(),
                )
            )
        return MapMemory.global_value_ptr(insn.imm, spec) + offset
    kind = PseudoSrc(src).name.lower()
    raise PseudoValueError(
        Diagnostic(
            pc,
            "unresolved-pseudo",
            f"lddw with pseudo source {kind} ({src}) refers to "
            f"{'a map' if 'map' in kind else 'a kernel object'} (imm {insn.imm}), "
            "but none is loaded with this program",
            insn.encode(),
        )
    )
