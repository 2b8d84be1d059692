"""Global (non-static) functions, which the kernel verifies on their own.

A call to a function with global BTF linkage is not followed: the caller gets an unknown
scalar in r0, and the function is explored once, as its own frame-0 program, with the
arguments its BTF prototype promises (an unknown scalar for an integer, the context for
a pointer to the program type's context struct, NULL-or-memory for another pointer).
That is what the kernel's ``do_check_subprogs`` does, so the facts inside such a function
are the ones the NFP driver's hooks see.
"""

from __future__ import annotations

from collections.abc import Mapping

from emulator.verifier.regstate import CTX, OTHER_OR_NULL, UNINIT_REG, UNKNOWN, RegState, pointer

CTX_STRUCTS: Mapping[str, frozenset[str]] = {
    "xdp": frozenset({"xdp_md"}),
    "tc": frozenset({"__sk_buff"}),
    "socket": frozenset({"__sk_buff"}),
}

GLOBAL_LINKAGE = 1


def global_entries(btf: object, symbols: Mapping[int, str]) -> frozenset[int]:
    """Entry pcs (not 0) of the functions whose BTF FUNC has global linkage."""
    if btf is None:
        return frozenset()
    from emulator.elf.btf import Btf, BtfKind

    if not isinstance(btf, Btf):
        return frozenset()
    out = set()
    for pc, name in symbols.items():
        if pc == 0:
            continue
        func = btf.find(name, BtfKind.FUNC)
        if func is not None and func.linkage == GLOBAL_LINKAGE:
            out.add(pc)
    return frozenset(out)


def argument_states(btf: object, name: str, prog_type: str) -> tuple[RegState, ...]:
    """r1..r5 at the entry of global function ``name``, from its BTF prototype."""
    from emulator.elf.btf import Btf, BtfError, BtfKind

    args = [UNINIT_REG] * 5
    if not isinstance(btf, Btf):
        return tuple(args)
    func = btf.find(name, BtfKind.FUNC)
    if func is None:
        return tuple(args)
    try:
        proto = btf.type(func.type)
        for i, param in enumerate(proto.params[:5]):
            t = btf.resolve(param.type)
            if t.kind is BtfKind.PTR:
                target = btf.resolve(t.type)
                if target.name in CTX_STRUCTS.get(prog_type, frozenset()):
                    args[i] = pointer(CTX)
                else:
                    args[i] = pointer(OTHER_OR_NULL)
            else:
                args[i] = UNKNOWN
    except (KeyError, BtfError):
        return tuple(UNKNOWN for _ in range(5))
    return tuple(args)
