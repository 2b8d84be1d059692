"""Field legality, derived from the opcode table: what the kernel rejects before verifying.

These are encoding rules only (unknown opcodes, reserved fields set, registers out of range,
jumps outside the program or into the middle of a lddw, writes to r10). Whether a program
is *safe* is the verifier's business, not this module's.
"""

from __future__ import annotations

from collections.abc import Sequence

from emulator.diagnostics import Diagnostic
from emulator.isa.fields import FRAME_POINTER, MAX_REG, PseudoSrc
from emulator.isa.insn import Insn
from emulator.isa.table import VARIANT_FIELD, Form

# Which fields each form leaves unused (and so must be zero), besides the variant field.
UNUSED_FIELDS: dict[Form, tuple[str, ...]] = {
    Form.ALU_REG: ("off", "imm"),
    Form.ALU_IMM: ("src", "off"),
    Form.NEG: ("src", "off", "imm"),
    Form.MOVSX: ("imm",),
    Form.END: ("src", "off"),
    Form.JA: ("dst", "src", "imm"),
    Form.JA32: ("dst", "src", "off"),
    Form.JCOND_REG: ("imm",),
    Form.JCOND_IMM: ("src",),
    Form.CALL: ("dst", "off"),
    Form.CALLX: ("src", "off", "imm"),
    Form.EXIT: ("dst", "src", "off", "imm"),
    Form.LDDW: ("off",),
    Form.LD_ABS: ("dst", "src", "off"),
    Form.LD_IND: ("dst", "off"),
    Form.LDX: ("imm",),
    Form.LDXSX: ("imm",),
    Form.ST: ("src",),
    Form.STX: ("imm",),
    Form.ATOMIC: (),
}

# Forms whose dst register is written (r10 may not be).
_WRITES_DST = {
    Form.ALU_REG,
    Form.ALU_IMM,
    Form.NEG,
    Form.MOVSX,
    Form.END,
    Form.LDDW,
    Form.LDX,
    Form.LDXSX,
}


# lddw pseudo sources whose second-slot imm is unused (MAP_VALUE keeps an offset there,
# BTF_ID a module BTF fd, IMM64 the high half).
_PSEUDO_WITHOUT_HI = {PseudoSrc.MAP_FD, PseudoSrc.MAP_IDX, PseudoSrc.FUNC}


def _raw(raw: bytes, pc: int) -> bytes:
    return raw[pc * 8 : pc * 8 + 8]


def validate_insn(insn: Insn, pc: int, raw: bytes = b"") -> list[Diagnostic]:
    """Diagnostics for one instruction on its own (no control-flow knowledge)."""
    slot = _raw(raw, pc)
    info = insn.info
    if info is None:
        field = VARIANT_FIELD.get(insn.opcode)
        if field:
            value = getattr(insn, field)
            text = (
                f"opcode 0x{insn.opcode:02x} has no form with {field}={value} ({field} selects the operation)"
            )
            return [Diagnostic(pc, "unknown-variant", text, slot)]
        return [Diagnostic(pc, "unknown-opcode", f"unknown opcode 0x{insn.opcode:02x}", slot)]
    diags: list[Diagnostic] = []
    for reg_field in ("dst", "src"):
        value = getattr(insn, reg_field)
        if value > MAX_REG and reg_field not in UNUSED_FIELDS[info.form]:
            diags.append(
                Diagnostic(
                    pc,
                    "bad-register",
                    f"{info.mnemonic}: {reg_field} register r{value} does not exist (r0-r{MAX_REG})",
                    slot,
                )
            )
    for name in UNUSED_FIELDS[info.form]:
        if name == info.variant_field:
            continue
        if getattr(insn, name) != 0:
            diags.append(
                Diagnostic(
                    pc,
                    "reserved-field",
                    f"{info.mnemonic}: unused field {name} must be 0, is {getattr(insn, name)}",
                    slot,
                )
            )
    if info.form in _WRITES_DST and insn.dst == FRAME_POINTER:
        diags.append(
            Diagnostic(pc, "write-r10", f"{info.mnemonic} writes r10, the read-only frame pointer", slot)
        )
    if info.form is Form.LDDW and info.variant in _PSEUDO_WITHOUT_HI and insn.imm_hi != 0:
        diags.append(
            Diagnostic(
                pc,
                "reserved-field",
                f"lddw {PseudoSrc(info.variant).name.lower()}: second-slot imm must be 0, is {insn.imm_hi}",
                slot,
            )
        )
    return diags


def validate(insns: Sequence[Insn | None], raw: bytes = b"") -> list[Diagnostic]:
    """Diagnostics for a whole program given per slot."""
    diags: list[Diagnostic] = []
    n = len(insns)
    for pc, insn in enumerate(insns):
        if insn is None:
            continue
        diags.extend(validate_insn(insn, pc, raw))
        if insn.info is None:
            continue
        target = insn.jump_target(pc)
        if target is not None:
            what = "call" if insn.info.form in (Form.CALL, Form.LDDW) else "jump"
            if not 0 <= target < n:
                diags.append(
                    Diagnostic(
                        pc,
                        "jump-out-of-range",
                        f"{what} to insn {target} is outside the program (0-{n - 1})",
                        _raw(raw, pc),
                    )
                )
            elif insns[target] is None:
                diags.append(
                    Diagnostic(
                        pc,
                        "jump-into-lddw",
                        f"{what} to insn {target}, the second half of a lddw",
                        _raw(raw, pc),
                    )
                )
    if n == 0:
        diags.append(Diagnostic(0, "empty", "program has no instructions"))
    return diags
