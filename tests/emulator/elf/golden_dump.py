"""A stable text dump of a loaded object, for the golden tests (and for reading).

Programs are listed with emulator.disasm (map, subprogram and helper names resolved) and
their BTF/DWARF source lines as ``;`` comments before the instruction they start at, the
way ``bpftool prog dump xlated linum`` shows them; maps with their BTF types and initial
contents rendered by format_value.
"""

from __future__ import annotations

import struct
from pathlib import Path

from emulator.bpfobject import BpfObject
from emulator.disasm import TableResolver, disassemble
from emulator.elf import Btf, format_value
from emulator.maps.spec import MapSpec, MapType

# The helpers the fixtures call (uapi/linux/bpf.h ids); enough for readable listings without
# depending on the helper registry's growth.
HELPERS = {
    1: "map_lookup_elem",
    2: "map_update_elem",
    6: "trace_printk",
    12: "tail_call",
    164: "for_each_map_elem",
    181: "loop",
}


def _type(btf: Btf | None, type_id: int) -> str:
    if not type_id or btf is None:
        return ""
    return f" ({btf.type_name(type_id)})"


def _describe(spec: MapSpec, btf: Btf | None) -> str:
    head = (
        f"{spec.name}: {spec.type.label} key {spec.key_size}{_type(btf, spec.key_btf)} "
        f"value {spec.value_size}{_type(btf, spec.value_btf)} max_entries {spec.max_entries}"
    )
    extras = [
        f"flags {spec.flags:#x}" if spec.flags else "",
        f"pinning {spec.pinning}" if spec.pinning else "",
        "frozen" if spec.frozen else "",
        f"section {spec.section}",
    ]
    return head + "".join(f" {e}" for e in extras if e)


def _map_lines(index: int, spec: MapSpec, obj: BpfObject) -> list[str]:
    btf = obj.btf if isinstance(obj.btf, Btf) else None
    lines = [f"  [{index}] {_describe(spec, btf)}"]
    if spec.inner is not None:
        lines.append(f"      inner {_describe(spec.inner, btf)}")
    for slot, prog in spec.initial_programs:
        lines.append(f"      slot {slot} = program {prog}")
    for key, value in spec.initial:
        if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
            (slot,), (target,) = struct.unpack("<I", key), struct.unpack("<I", value)
            lines.append(f"      slot {slot} = map [{target}] {obj.maps[target].name}")
        elif btf is not None and spec.value_btf:
            lines.append(f"      {key.hex()} = {format_value(btf, spec.value_btf, value)}")
        else:
            lines.append(f"      {key.hex()} = {value.hex()}")
    return lines


def dump_object(obj: BpfObject) -> str:
    out = [f"object {Path(obj.path).name}", f"license {obj.license!r}", "maps:"]
    for index, spec in enumerate(obj.maps):
        out += _map_lines(index, spec, obj)
    map_names = {("idx", i): m.name for i, m in enumerate(obj.maps)}
    for prog in obj.programs:
        out.append("")
        out.append(f"program {prog.name}: section {prog.section}, type {prog.prog_type}, {prog.nslots} slots")
        out += [f"  warning: {w.message}" for w in prog.warnings]
        out.append("  functions: " + ", ".join(f"{pc}={name}" for pc, name in sorted(prog.symbols.items())))
        resolver = TableResolver(helpers=HELPERS, maps=map_names, subprogs=dict(prog.symbols))
        for line in disassemble(prog.insns, resolver=resolver):
            if line.label:
                out.append(f"{line.label}:")
            source = prog.lines.get(line.pc)
            if source is not None:
                out.append(f"    ; {source.text.strip()}  [{source.file}:{source.line}:{source.column}]")
            out.append(f"  {line.pc:4d}: {line.text}")
    return "\n".join(out) + "\n"
