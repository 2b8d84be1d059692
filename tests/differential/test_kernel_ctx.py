"""Program contexts against the kernel: every readable field of __sk_buff (TC and socket
filter) and xdp_md, legacy LD_ABS/LD_IND loads, and packet writes, on a spread of frames.
The kernel's BPF_PROG_TEST_RUN is the reference; skipped only where bpf() is refused."""

from __future__ import annotations

import pytest

from bpfdbg.headless import run_once
from emulator.asm import assemble
from emulator.backends.kernel.syscall import available
from emulator.program import Program
from emulator.progtypes.skb import SOCKET_FIELDS, TC_FIELDS
from emulator.progtypes.xdp import XDP_MD_FIELDS

_WHY = available()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=_WHY or "")

IPV4 = bytes.fromhex("4500003c1c4640004006b1e60a0000010a000002") + bytes.fromhex("04d20050" + "00" * 16)
IPV6 = bytes.fromhex("6000000000140640") + bytes(15) + b"\x01" + bytes(15) + b"\x02" + bytes(20)
FRAMES = {
    "broadcast-ipv4": bytes.fromhex("ffffffffffff020000000001") + b"\x08\x00" + IPV4 + bytes(40),
    "unicast-ipv4": bytes.fromhex("020000000002020000000001") + b"\x08\x00" + IPV4 + bytes(40),
    "host-ipv4": bytes(6) + bytes.fromhex("020000000001") + b"\x08\x00" + IPV4 + bytes(40),
    "multicast-ipv6": bytes.fromhex("333300000001020000000001") + b"\x86\xdd" + IPV6 + bytes(40),
    "vlan": bytes.fromhex("020000000002020000000001") + bytes.fromhex("810000640800") + IPV4 + bytes(40),
    "arp": bytes.fromhex("ffffffffffff020000000001") + b"\x08\x06" + bytes(46),
}
FRAMES = {name: frame + bytes(300 - len(frame)) for name, frame in FRAMES.items()}


def _field_dump(fields, prog_type: str) -> str:  # type: ignore[no-untyped-def]
    """Store every scalar ctx field into the packet, from byte 14 (TC, XDP) on."""
    data, end = {"tc": (76, 80), "xdp": (0, 4)}[prog_type]
    need = 14 + 8 * len(_probes(fields))
    lines = ["r6 = r1", f"r7 = *(u32 *)(r6 + {data})", f"r8 = *(u32 *)(r6 + {end})",
             "r1 = r7", f"r1 += {need}", "if r1 > r8 goto out"]  # fmt: skip
    for slot, (off, size) in enumerate(_probes(fields)):
        width = {4: "u32", 8: "u64"}[size]
        lines += [f"r2 = *({width} *)(r6 + {off})", f"*(u64 *)(r7 + {14 + 8 * slot}) = r2"]
    return "\n".join([*lines, "out:", "r0 = 0", "exit"])


def _probes(fields) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(offset, size) loads covering every scalar field (arrays as their u32 elements)."""
    out = []
    for f in fields:
        if f.pointer or f.name == "sk":
            continue
        if f.size == 8:
            out.append((f.off, 8))
        else:
            out += [(f.off + i, 4) for i in range(0, f.size, 4)]
    return out


def _both(text: str, prog_type: str, frame: bytes):  # type: ignore[no-untyped-def]
    prog = Program.from_insns(assemble(text), name="t", prog_type=prog_type)
    ours = run_once(prog, packet=frame, backend="interp")
    kernel = run_once(prog, packet=frame, backend="kernel")
    assert ours.fault is None, ours.fault
    return ours, kernel


@pytest.mark.parametrize("frame", FRAMES, ids=list(FRAMES))
@pytest.mark.parametrize(("prog_type", "fields"), [("tc", TC_FIELDS), ("xdp", XDP_MD_FIELDS)])
def test_ctx_fields_match(prog_type: str, fields, frame: str) -> None:  # type: ignore[no-untyped-def]
    ours, kernel = _both(_field_dump(fields, prog_type), prog_type, FRAMES[frame])
    assert ours.retval == kernel.retval
    assert ours.insns >= 2 * len(_probes(fields))  # the frame was long enough to dump into
    probes = _probes(fields)
    got = {p: ours.packet_out[14 + 8 * i : 22 + 8 * i].hex() for i, p in enumerate(probes)}  # type: ignore[index]
    want = {p: kernel.packet_out[14 + 8 * i : 22 + 8 * i].hex() for i, p in enumerate(probes)}  # type: ignore[index]
    assert got == want


@pytest.mark.parametrize("frame", FRAMES, ids=list(FRAMES))
def test_socket_filter_fields_and_legacy_loads(frame: str) -> None:
    """Socket filters see the frame from the network header; fields are read into r0 one
    at a time (they have no direct packet access), and LD_ABS/LD_IND load network order."""
    for off, size in _probes(SOCKET_FIELDS):
        if off == 168:
            continue  # sk: the test run's socket pointer, an address we cannot reproduce
        width = {4: "u32", 8: "u64"}[size]
        ours, kernel = _both(f"r6 = r1\nr0 = *({width} *)(r6 + {off})\nexit", "socket", FRAMES[frame])
        assert ours.retval == kernel.retval, off
    for text in ("r6 = r1\nr0 = *(u8 *)skb[9]\nexit", "r6 = r1\nr0 = *(u16 *)skb[2]\nexit",
                 "r6 = r1\nr0 = *(u32 *)skb[12]\nexit", "r6 = r1\nr0 = *(u32 *)skb[4000]\nexit",
                 "r6 = r1\nr2 = 8\nr0 = *(u16 *)skb[r2 + 4]\nexit"):  # fmt: skip
        ours, kernel = _both(text, "socket", FRAMES[frame])
        assert ours.retval == kernel.retval, text
        assert ours.packet_out == kernel.packet_out


@pytest.mark.parametrize("prog_type", ["xdp", "tc"])
def test_packet_writes_come_back(prog_type: str) -> None:
    data, end = {"tc": (76, 80), "xdp": (0, 4)}[prog_type]
    text = (f"r7 = *(u32 *)(r1 + {data})\nr8 = *(u32 *)(r1 + {end})\nr1 = r7\nr1 += 16\n"
            "if r1 > r8 goto +3\nr2 = 0x1122334455667788 ll\n"
            "*(u64 *)(r7 + 6) = r2\nr0 = 2\nexit")  # fmt: skip
    for frame in FRAMES.values():
        ours, kernel = _both(text, prog_type, frame)
        assert (ours.retval, ours.packet_out) == (kernel.retval, kernel.packet_out)
