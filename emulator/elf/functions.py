"""Code sections cut into functions, decoded once.

Every executable section is a run of 8-byte instruction slots; its STT_FUNC symbols say
where each function starts (``st_value``) and how long it is (``st_size``). A section may
hold several functions (libbpf's multi-program sections, and ``.text`` with all the
subprograms). The slots are decoded once per section here; programs are assembled from
these pieces by :mod:`emulator.elf.linker`, which copies and patches them.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.elf.image import STB_LOCAL, STT_FUNC, ElfImage, Section
from emulator.errors import ElfLoadError
from emulator.isa.insn import LDDW_OPCODE, SLOT, SLOT_SIZE, Insn


@dataclass(frozen=True, slots=True)
class Function:
    """One function: slots ``start`` .. ``start + length`` of code section ``section``."""

    name: str
    section: str
    section_index: int
    start: int  # first slot within the section
    length: int  # in slots
    is_global: bool

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class CodeSection:
    """A decoded executable section: ``slots[i]`` is the instruction at slot ``i`` (None for
    the second half of a lddw) and ``functions`` are sorted by start."""

    section: Section
    slots: tuple[Insn | None, ...]
    functions: tuple[Function, ...]

    @property
    def name(self) -> str:
        return self.section.name

    def function_at(self, slot: int) -> Function | None:
        """The function whose first slot is ``slot``."""
        for func in self.functions:
            if func.start == slot:
                return func
        return None

    def function_containing(self, slot: int) -> Function | None:
        for func in self.functions:
            if func.start <= slot < func.end:
                return func
        return None


def decode_slots(path: str, section: Section) -> tuple[Insn | None, ...]:
    """Decode every slot of a code section, joining each lddw with its second slot.

    Unknown opcodes are kept (``Insn.info`` is None); the linker validates whole programs.
    """
    data = section.data
    if len(data) % SLOT_SIZE:
        raise ElfLoadError(
            f"{path}: code section {section.name} is {len(data)} bytes, not a multiple of 8; "
            "the file is damaged"
        )
    nslots = len(data) // SLOT_SIZE
    out: list[Insn | None] = []
    unpack = SLOT.unpack_from
    pc = 0
    while pc < nslots:
        opcode, regs, off, imm = unpack(data, pc * SLOT_SIZE)
        if opcode == LDDW_OPCODE and pc + 1 < nslots:
            imm_hi = unpack(data, (pc + 1) * SLOT_SIZE)[3]
            out.append(Insn(opcode, regs & 0x0F, regs >> 4, off, imm, imm_hi))
            out.append(None)
            pc += 2
            continue
        out.append(Insn(opcode, regs & 0x0F, regs >> 4, off, imm))
        pc += 1
    return tuple(out)


def _function_symbols(image: ElfImage, section: Section) -> list[tuple[int, int, str, bool]]:
    """(start slot, size in slots or 0, name, is_global) for the section's STT_FUNC symbols."""
    found: dict[int, tuple[int, int, str, bool]] = {}
    nslots = section.size // SLOT_SIZE
    for sym in image.symbols:
        if sym.shndx != section.index or sym.type != STT_FUNC or not sym.name:
            continue
        if sym.value % SLOT_SIZE or sym.size % SLOT_SIZE:
            raise ElfLoadError(
                f"{image.path}: function {sym.name} in {section.name} starts at byte {sym.value} "
                f"with size {sym.size}; both must be multiples of 8"
            )
        start = sym.value // SLOT_SIZE
        if start >= nslots or start + sym.size // SLOT_SIZE > nslots:
            raise ElfLoadError(
                f"{image.path}: function {sym.name} (bytes {sym.value}-{sym.value + sym.size}) lies "
                f"outside its section {section.name} ({section.size} bytes)"
            )
        entry = (start, sym.size // SLOT_SIZE, sym.name, sym.bind != STB_LOCAL)
        previous = found.get(start)
        if previous is None or (entry[3] and not previous[3]):  # an alias: prefer the global name
            found[start] = entry
    return sorted(found.values())


def split_functions(image: ElfImage, section: Section, nslots: int) -> tuple[Function, ...]:
    """Functions of a code section; a size-0 symbol runs to the next function or the end.

    A section with code but no function symbol (hand-written assembly) becomes one global
    function named after the section, so it can still be loaded.
    """
    symbols = _function_symbols(image, section)
    if not symbols:
        if nslots == 0:
            return ()
        name = section.name.replace("/", "_").replace(".", "_").strip("_") or "prog"
        return (Function(name, section.name, section.index, 0, nslots, True),)
    funcs: list[Function] = []
    for i, (start, length, name, is_global) in enumerate(symbols):
        limit = symbols[i + 1][0] if i + 1 < len(symbols) else nslots
        if length == 0 or start + length > limit:
            length = limit - start
        funcs.append(Function(name, section.name, section.index, start, length, is_global))
    return tuple(funcs)


def read_code_section(image: ElfImage, section: Section) -> CodeSection:
    slots = decode_slots(image.path, section)
    return CodeSection(section, slots, split_functions(image, section, len(slots)))
