"""Our parsed BTF, rendered the way ``bpftool btf dump file X.o`` (format raw) prints it.

Used only by the cross-check test: bpftool (libbpf's BTF parser) is the reference, and this
renderer is kept as small as the comparison needs.
"""

from __future__ import annotations

from emulator.elf.btf import INT_BOOL, INT_CHAR, INT_SIGNED, LINKAGE_NAMES, Btf, BtfKind, BtfType


def _q(name: str) -> str:
    return f"'{name or '(anon)'}'"


def _int_encoding(enc: int) -> str:
    return {0: "(none)", INT_SIGNED: "SIGNED", INT_CHAR: "CHAR", INT_BOOL: "BOOL"}.get(enc, "UNKN")


def render_type(btf: Btf, t: BtfType) -> list[str]:
    head = f"[{t.id}] {t.kind.name} {_q(t.name)}"
    k = t.kind
    if k is BtfKind.INT:
        return [
            f"{head} size={t.size} bits_offset={t.int_offset} nr_bits={t.int_bits} "
            f"encoding={_int_encoding(t.int_encoding)}"
        ]
    if k in (
        BtfKind.PTR,
        BtfKind.TYPEDEF,
        BtfKind.VOLATILE,
        BtfKind.CONST,
        BtfKind.RESTRICT,
        BtfKind.TYPE_TAG,
    ):
        return [f"{head} type_id={t.type}"]
    if k is BtfKind.ARRAY:
        return [f"{head} type_id={t.elem_type} index_type_id={t.index_type} nr_elems={t.nelems}"]
    if k in (BtfKind.STRUCT, BtfKind.UNION):
        lines = [f"{head} size={t.size} vlen={len(t.members)}"]
        for m in t.members:
            extra = f" bitfield_size={m.bitfield_size}" if m.bitfield_size else ""
            lines.append(f"\t{_q(m.name)} type_id={m.type} bits_offset={m.bit_offset}{extra}")
        return lines
    if k in (BtfKind.ENUM, BtfKind.ENUM64):
        enc = "SIGNED" if t.kind_flag else "UNSIGNED"
        lines = [f"{head} encoding={enc} size={t.size} vlen={len(t.enumerators)}"]
        suffix = ("LL" if t.kind_flag else "ULL") if k is BtfKind.ENUM64 else ""
        lines += [f"\t{_q(e.name)} val={e.value}{suffix}" for e in t.enumerators]
        return lines
    if k is BtfKind.FWD:
        return [f"{head} fwd_kind={'union' if t.kind_flag else 'struct'}"]
    if k is BtfKind.FUNC:
        return [f"{head} type_id={t.type} linkage={LINKAGE_NAMES.get(t.linkage, '(unknown)')}"]
    if k is BtfKind.FUNC_PROTO:
        lines = [f"{head} ret_type_id={t.type} vlen={len(t.params)}"]
        lines += [f"\t{_q(p.name)} type_id={p.type}" for p in t.params]
        return lines
    if k is BtfKind.VAR:
        return [f"{head} type_id={t.type}, linkage={LINKAGE_NAMES.get(t.linkage, '(unknown)')}"]
    if k is BtfKind.DATASEC:
        lines = [f"{head} size={t.size} vlen={len(t.secinfos)}"]
        for s in t.secinfos:
            lines.append(
                f"\ttype_id={s.type} offset={s.offset} size={s.size} (VAR {_q(btf.type(s.type).name)})"
            )
        return lines
    if k is BtfKind.FLOAT:
        return [f"{head} size={t.size}"]
    if k is BtfKind.DECL_TAG:
        return [f"{head} type_id={t.type} component_idx={t.component_idx}"]
    return [head]


def render_btf(btf: Btf) -> str:
    return "\n".join(line for t in btf for line in render_type(btf, t)) + "\n"
