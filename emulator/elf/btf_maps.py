"""BTF-defined maps: the variables of the ``.maps`` section, read from their BTF types.

``bpf_helpers.h`` declares a map as an anonymous struct whose members carry the map's
attributes in their *types*, because the variable's bytes are all zero:

* ``__uint(name, N)`` is ``int (*name)[N]``: a pointer to an array of N elements; N is
  the value (``type``, ``max_entries``, ``map_flags``, ``key_size``, ``value_size``,
  ``pinning``, ``numa_node``, ``map_extra``);
* ``__type(name, T)`` is ``T *name``: ``key`` and ``value`` give the type, hence the size,
  and the BTF type id the debugger formats entries with;
* ``__array(values, T)`` is ``T *values[]``: for map-in-map, T is the inner map's definition
  struct; for a prog_array, a function prototype. Initial slots are relocations in
  ``.rel.maps`` at ``&values[i]`` against the map or program that fills slot ``i``.

The rules (and the ``<outer>.inner`` name of inner maps) follow libbpf's
``parse_btf_map_def``, so an object means the same here as when libbpf loads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from emulator.elf.btf import Btf, BtfError, BtfKind, BtfType
from emulator.elf.image import (
    R_BPF_64_64,
    R_BPF_64_ABS64,
    STT_SECTION,
    ElfImage,
    Section,
    Symbol,
    relocation_name,
)
from emulator.elf.map_types import map_type_from_number
from emulator.errors import ElfLoadError
from emulator.maps.spec import MapSpec, MapType

_INT_FIELDS = (
    "type",
    "max_entries",
    "map_flags",
    "numa_node",
    "key_size",
    "value_size",
    "pinning",
    "map_extra",
)
_MAP_IN_MAP = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)
PTR_SIZE = 8


@dataclass(frozen=True)
class MapDefinition:
    """A map as found in the object, before map indexes exist (the definition is at
    ``offset`` .. ``offset + size`` of section ``section_index``).

    ``slot_refs`` are the ``.values = { [slot] = &symbol }`` initialisers; the loader turns
    them into ``initial_programs`` (prog_array) or ``initial`` entries (map-in-map) once it
    knows every program name and map index.
    """

    spec: MapSpec
    section_index: int
    offset: int
    size: int
    slot_refs: tuple[tuple[int, Symbol], ...] = field(default=())
    whole_section: bool = False  # a global-data map: any offset in the section is its value


@dataclass
class _Fields:
    ints: dict[str, int] = field(default_factory=dict)
    key_type: int = 0
    value_type: int = 0
    values_member: BtfType | None = None  # the `values` array type
    values_offset: int = 0  # byte offset of `values` in the definition struct


def _int_field(btf: Btf, member_type: int, where: str, name: str) -> int:
    ptr = btf.skip_modifiers(member_type)
    if ptr.kind is not BtfKind.PTR:
        raise BtfError(
            f"{where}: attribute {name!r} is {ptr.kind.name}, not __uint({name}, N) (a pointer to an array)"
        )
    arr = btf.resolve(ptr.type)
    if arr.kind is not BtfKind.ARRAY:
        raise BtfError(
            f"{where}: attribute {name!r} points at {arr.kind.name}, not at an array (__uint({name}, N))"
        )
    return arr.nelems


def _read_fields(btf: Btf, struct_type: BtfType, where: str) -> _Fields:
    out = _Fields()
    for member in struct_type.members:
        name = member.name
        if name in _INT_FIELDS:
            out.ints[name] = _int_field(btf, member.type, where, name)
        elif name in ("key", "value"):
            ptr = btf.skip_modifiers(member.type)
            if ptr.kind is not BtfKind.PTR:
                raise BtfError(f"{where}: {name!r} is {ptr.kind.name}, not __type({name}, T) (a pointer)")
            if name == "key":
                out.key_type = ptr.type
            else:
                out.value_type = ptr.type
        elif name == "values":
            arr = btf.skip_modifiers(member.type)
            if arr.kind is not BtfKind.ARRAY:
                raise BtfError(f"{where}: 'values' is {arr.kind.name}, not __array(values, T)")
            out.values_member = arr
            out.values_offset = member.bit_offset // 8
        else:
            raise BtfError(
                f"{where}: unknown map attribute {name!r} "
                f"(known: {', '.join(_INT_FIELDS)}, key, value, values)"
            )
    return out


def _sized(btf: Btf, type_id: int, where: str, what: str) -> int:
    if type_id == 0:
        raise BtfError(f"{where}: {what} type is void")
    return btf.size_of(type_id)


def _build_spec(
    path: str, btf: Btf, name: str, struct_type: BtfType, where: str, *, inner_allowed: bool = True
) -> tuple[MapSpec, _Fields]:
    fields_ = _read_fields(btf, struct_type, where)
    ints = fields_.ints
    if "type" not in ints:
        raise BtfError(f"{where}: no map type (add __uint(type, BPF_MAP_TYPE_...))")
    map_type = map_type_from_number(path, name, ints["type"])
    key_size = ints.get("key_size", 0)
    value_size = ints.get("value_size", 0)
    if fields_.key_type:
        size = _sized(btf, fields_.key_type, where, "key")
        if key_size and key_size != size:
            raise BtfError(f"{where}: key_size {key_size} conflicts with the key type's size {size}")
        key_size = size
    if fields_.value_type:
        size = _sized(btf, fields_.value_type, where, "value")
        if value_size and value_size != size:
            raise BtfError(f"{where}: value_size {value_size} conflicts with the value type's size {size}")
        value_size = size
    inner: MapSpec | None = None
    if fields_.values_member is not None:
        if map_type not in (*_MAP_IN_MAP, MapType.PROG_ARRAY):
            raise BtfError(
                f"{where}: 'values' is only for map-in-map and prog_array maps, not {map_type.label}"
            )
        if value_size and value_size != 4:
            raise BtfError(
                f"{where}: value_size {value_size} conflicts with 'values' (map or program fds are 4 bytes)"
            )
        value_size = 4
        ptr = btf.skip_modifiers(fields_.values_member.elem_type)
        if ptr.kind is not BtfKind.PTR:
            raise BtfError(
                f"{where}: 'values' elements are {ptr.kind.name}, not pointers (__array(values, T))"
            )
        target = btf.resolve(ptr.type)
        if map_type is MapType.PROG_ARRAY:
            if target.kind is not BtfKind.FUNC_PROTO:
                raise BtfError(
                    f"{where}: a prog_array's 'values' must be a function prototype, not {target.kind.name}"
                )
        else:
            if not inner_allowed:
                raise BtfError(f"{where}: an inner map cannot itself hold maps")
            if target.kind is not BtfKind.STRUCT:
                raise BtfError(
                    f"{where}: 'values' must point at an inner map definition struct, not {target.kind.name}"
                )
            inner, _ = _build_spec(
                path, btf, f"{name}.inner", target, f"{where} (inner map)", inner_allowed=False
            )
    elif map_type in _MAP_IN_MAP:
        raise BtfError(f"{where}: a {map_type.label} map needs __array(values, struct {{ ...inner map... }})")
    spec = MapSpec(
        name=name,
        type=map_type,
        key_size=key_size,
        value_size=value_size,
        max_entries=ints.get("max_entries", 0),
        flags=ints.get("map_flags", 0),
        pinning=ints.get("pinning", 0),
        section=".maps",
        inner=inner,
        key_btf=fields_.key_type,
        value_btf=fields_.value_type,
    )
    return spec, fields_


def _slot_refs(
    image: ElfImage,
    section: Section,
    name: str,
    offset: int,
    size: int,
    fields_: _Fields,
    max_entries: int,
    relocations: list[tuple[int, int, Symbol]],
) -> tuple[tuple[int, Symbol], ...]:
    refs: list[tuple[int, Symbol]] = []
    for rel_off, rel_type, symbol in relocations:
        if not offset <= rel_off < offset + size:
            continue
        if fields_.values_member is None:
            raise ElfLoadError(
                f"{image.path}: map {name!r} has a relocation at byte {rel_off - offset} of its definition, "
                "but no 'values' member to initialise"
            )
        if rel_type not in (R_BPF_64_ABS64, R_BPF_64_64):
            raise ElfLoadError(
                f"{image.path}: map {name!r} initial value uses {relocation_name(rel_type)}; "
                "expected R_BPF_64_ABS64"
            )
        moff = rel_off - offset - fields_.values_offset
        if moff < 0 or moff % PTR_SIZE:
            raise ElfLoadError(
                f"{image.path}: map {name!r} has a relocation at byte {rel_off - offset}, not in 'values'"
            )
        slot = moff // PTR_SIZE
        if max_entries and slot >= max_entries:
            raise ElfLoadError(
                f"{image.path}: map {name!r} initialises slot {slot}, but max_entries is {max_entries}"
            )
        refs.append((slot, symbol))
    return tuple(sorted(refs, key=lambda r: r[0]))


def read_btf_maps(
    image: ElfImage, btf: Btf | None, section: Section, relocations: list[tuple[int, int, Symbol]]
) -> list[MapDefinition]:
    """Maps of a ``.maps`` section, in the order of its BTF DATASEC (libbpf's order).

    ``relocations`` are the ``.rel.maps`` entries as (offset, type, symbol).
    """
    if btf is None:
        raise ElfLoadError(
            f"{image.path} has a .maps section but no .BTF describing it; compile with -g so clang emits BTF"
        )
    datasec = btf.find(".maps", BtfKind.DATASEC)
    if datasec is None:
        raise ElfLoadError(f"{image.path}: .BTF has no DATASEC for .maps; recompile with a current clang -g")
    symbols: Mapping[str, Symbol] = {
        s.name: s for s in image.symbols if s.shndx == section.index and s.name and s.type != STT_SECTION
    }
    out: list[MapDefinition] = []
    for info in datasec.secinfos:
        var = btf.type(info.type)
        name = var.name
        where = f"{image.path}: map {name!r}"
        if var.kind is not BtfKind.VAR:
            raise BtfError(f"{where}: .maps lists a {var.kind.name}, not a variable")
        sym = symbols.get(name)
        if sym is None:
            raise ElfLoadError(f"{where}: .BTF lists it in .maps but the symbol table has no such symbol")
        struct_type = btf.resolve(var.type)
        if struct_type.kind is not BtfKind.STRUCT:
            raise BtfError(f"{where}: the variable is a {struct_type.kind.name}, not a map definition struct")
        spec, fields_ = _build_spec(image.path, btf, name, struct_type, where)
        size = max(info.size, sym.size, struct_type.size)
        if sym.value + struct_type.size > section.size:
            raise ElfLoadError(f"{where}: its definition runs past the end of .maps")
        refs = _slot_refs(image, section, name, sym.value, size, fields_, spec.max_entries, relocations)
        out.append(MapDefinition(spec, section.index, sym.value, size, refs))
    return out
