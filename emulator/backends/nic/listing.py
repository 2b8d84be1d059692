"""Listings of an NFP image in the driver's disassembly style: what ``bpftool prog dump
jited`` prints for an offloaded program (libbfd's nfp-dis, 4-context mode), i.e. the
pre-relocation image with ``br[.15000]`` markers for exits, helpers and the next-packet
branch.

Each line is ``<byte offset>:\\t<.index>  <instruction>`` (the byte offset is 8 per
instruction, the index right-aligned to the widest one, as nfp-dis pads it); ``opcodes`` adds
the word's 8 bytes on the next line, as bpftool does. A whole-image listing heads each eBPF
instruction's range with that instruction (and its source line when the object has one), and
names the intro, outro labels, subroutines and the prefetch tail.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.backends.base import NativeInsn
from emulator.backends.nic.microcode import encode_bytes
from emulator.backends.nic.translate import NfpImage
from emulator.disasm.listing import format_insn
from emulator.program import Program

INSN_BYTES = 8
_LABEL_TITLES = {
    "intro": "intro: plen = packet length",
    "abort": "abort: verdict byte for an abort, then the next packet",
    "out": "out: verdict byte from r0, then the next packet",
    "push_regs": "push_regs: save r6-r9 in the callee frame",
    "pop_regs": "pop_regs: restore r6-r9 and return",
    "tail": "prefetch window",
}


def native_insn(image: NfpImage, address: int) -> NativeInsn:
    """Microcode ``address`` as a NativeInsn: the program-relative address, the 8 bytes of
    its pre-relocation word, the nfp-dis text."""
    insn = image.insns[address]
    return NativeInsn(address, encode_bytes(insn), insn.text())


def native_of(image: NfpImage, pc: int) -> list[NativeInsn]:
    """The microcode eBPF instruction ``pc`` became ([] for dead or removed instructions)."""
    rng = image.ranges.get(pc)
    if rng is None:
        return []
    return [native_insn(image, addr) for addr in range(*rng)]


@dataclass(frozen=True, slots=True)
class ListingLine:
    """One microcode instruction of a whole-image listing: ``pc`` is the eBPF instruction it
    belongs to (None for the intro, outro, subroutines and tail), ``function`` the entry pc
    of the function it sits in (-1 outside the body), ``label`` the image label starting here."""

    pc: int | None
    function: int
    insn: NativeInsn
    label: str | None = None


def image_listing(image: NfpImage) -> list[ListingLine]:
    """Every microcode instruction in address order, tagged with its eBPF pc."""
    labels = {addr: name for name, addr in image.labels.items() if name != "body"}
    entries = sorted(image.frames)
    lines = []
    for addr in range(len(image)):
        pc = image.pc_at(addr)
        function = -1
        if pc is not None:
            function = max((e for e in entries if e <= pc), default=0)
        lines.append(ListingLine(pc, function, native_insn(image, addr), labels.get(addr)))
    return lines


def index_width(image: NfpImage) -> int:
    """Width of the ``.N`` column: nfp-dis pads to the widest index of the section."""
    return len(str(max(len(image) - 1, 0))) + 1


def format_line(insn: NativeInsn, width: int, opcodes: bool = False) -> str:
    """``   0:\\t   .0  immed[gprB_22, 0x3fff]`` (plus the word's bytes with ``opcodes``)."""
    text = f"{insn.address * INSN_BYTES:4x}:\t{'.' + str(insn.address):>{width}}  {insn.text}"
    if opcodes:
        text += "\n\t" + " ".join(f"{byte:02x}" for byte in insn.raw)
    return text


def format_listing(image: NfpImage, program: Program | None = None, *, opcodes: bool = False) -> str:
    """The whole image as text, each eBPF instruction's range headed by ``; pc: insn`` (and
    ``; source`` when known), the image's labels by ``; name: what it does``."""
    width = index_width(image)
    out: list[str] = []
    last: int | None = None
    for line in image_listing(image):
        if line.label is not None:
            out.append(f"; {_LABEL_TITLES.get(line.label, line.label)}")
        if line.pc is not None and line.pc != last:
            out.extend(_header(program, line.pc))
        last = line.pc
        out.append(format_line(line.insn, width, opcodes))
    return "\n".join(out)


def _header(program: Program | None, pc: int) -> list[str]:
    if program is None:
        return [f"; insn {pc}"]
    insn = program.insn_at(pc)
    head = [f"; {pc}: {format_insn(insn, pc)}" if insn is not None else f"; insn {pc}"]
    src = program.lines.get(pc)
    if src is not None and src.text:
        head.append(f"; {src.text.strip()} [{src.file}:{src.line}]")
    return head
