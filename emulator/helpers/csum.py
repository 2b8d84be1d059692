"""Internet checksum arithmetic as the kernel does it, and the checksum helpers.

The kernel keeps partial checksums as 32-bit ones' complement sums (``__wsum``) and folds
them to 16 bits (``__sum16``) at the end. Programs see these values directly (the return
value of ``bpf_csum_diff``, the checksum fields that ``bpf_l3_csum_replace`` writes), so we
must reproduce not just the arithmetic modulo 0xffff but the exact 32-bit representative:
whether a sum is 0 or 0xffffffff decides whether its complement is 0xffffffff or 0, and
that shows in the folded result. The functions below are written from the documented
semantics of the kernel's ``csum_add``/``csum_sub``/``csum_fold``/``csum_partial``:

- every 32-bit addition carries its overflow back in (end-around carry), so a sum is 0
  only when everything added was 0, and otherwise lies in [1, 0xffffffff];
- ``csum_partial`` adds the buffer as little-endian words (a short tail zero-padded) to the
  seed; only the value modulo 2**32 - 1 and whether it is zero matter, and the end-around
  adder determines both.

Values are handled in memory order, as the kernel does on a little-endian CPU: a checksum
field is the u16 loaded little-endian from the packet, and ``from``/``to`` are the
(big-endian) field values as the program loaded them.
"""

from __future__ import annotations

from emulator.helpers.packet import EFAULT, EINVAL, HelperCall, helper, read_arg
from emulator.helpers.registry import HelperImpl

M32 = 0xFFFFFFFF
M16 = 0xFFFF

BPF_F_HDR_FIELD_MASK = 0xF
BPF_F_PSEUDO_HDR = 1 << 4
BPF_F_MARK_MANGLED_0 = 1 << 5
BPF_F_MARK_ENFORCE = 1 << 6
BPF_F_IPV6 = 1 << 7
CSUM_MANGLED_0 = 0xFFFF


# -- the arithmetic ------------------------------------------------------------------------
def csum_add(a: int, b: int) -> int:
    """32-bit ones' complement addition (the carry out of bit 31 is added back in)."""
    res = (a + b) & M32
    return (res + (res < (b & M32))) & M32


def csum_sub(a: int, b: int) -> int:
    return csum_add(a, ~b & M32)


def csum16_add(a: int, b: int) -> int:
    res = (a + b) & M16
    return (res + (res < (b & M16))) & M16


def csum16_sub(a: int, b: int) -> int:
    return csum16_add(a, ~b & M16)


def csum_fold(csum: int) -> int:
    """Fold a 32-bit partial sum to 16 bits and complement it (the header field value)."""
    return ~csum16_add((csum >> 16) & M16, csum & M16) & M16


def from32to16(csum: int) -> int:
    """Fold to 16 bits without complementing (what ``bpf_csum_diff`` returns)."""
    x = (csum & M16) + ((csum >> 16) & M16)
    x = (x & M16) + (x >> 16)
    return x & M16


def csum_partial(data: bytes, seed: int) -> int:
    """The 32-bit sum of ``data`` (little-endian words, zero-padded tail) plus ``seed``.

    An end-around-carry adder returns 0 only if every input is 0 and otherwise the
    representative in [1, 2**32 - 1] of the sum modulo 2**32 - 1, whatever order or word
    size it adds in; that is what we compute directly.
    """
    seed &= M32
    padded = data + bytes(-len(data) % 4)
    total = seed + sum(int.from_bytes(padded[i : i + 4], "little") for i in range(0, len(padded), 4))
    if total == 0:
        return 0
    return (total - 1) % M32 + 1


def csum_replace2(field: int, old: int, new: int) -> int:
    return ~csum16_add(csum16_sub(~field & M16, old & M16), new & M16) & M16


def csum_replace4(field: int, old: int, new: int) -> int:
    tmp = csum_sub(~field & M32, old & M32)
    return csum_fold(csum_add(tmp, new & M32))


def csum_replace_by_diff(field: int, diff: int) -> int:
    return csum_fold(csum_add(diff & M32, ~field & M32))


def csum_diff(frm: bytes, to: bytes, seed: int) -> int:
    """``bpf_csum_diff``: sum of ``to`` minus sum of ``from``, plus ``seed``, folded."""
    ret = seed & M32
    if frm and to:
        ret = csum_sub(csum_partial(to, ret), csum_partial(frm, 0))
    elif to:
        ret = csum_partial(to, ret)
    elif frm:
        ret = ~csum_partial(frm, ~ret & M32) & M32
    return from32to16(ret)


# -- the helpers ---------------------------------------------------------------------------
@helper("bpf_csum_diff", "xdp", "tc", ctx_arg=False)
def bpf_csum_diff(call: HelperCall, frm: int, from_size: int, to: int, to_size: int, seed: int) -> int:
    """Either buffer may be NULL with size 0 (ARG_PTR_TO_MEM_OR_NULL, ARG_CONST_SIZE_OR_ZERO).
    Since 6.x any sizes are accepted (older kernels wanted multiples of 4)."""
    from_size &= M32
    to_size &= M32
    before = read_arg(call, 1, frm, from_size)
    after = read_arg(call, 3, to, to_size)
    return csum_diff(before, after, seed)


def _replace(call: HelperCall, offset: int, frm: int, to: int, flags: int, l4: bool) -> int:
    """The shared body of l3/l4_csum_replace, with the kernel's order of checks."""
    offset &= M32
    allowed = BPF_F_HDR_FIELD_MASK
    if l4:
        allowed |= BPF_F_MARK_MANGLED_0 | BPF_F_MARK_ENFORCE | BPF_F_PSEUDO_HDR | BPF_F_IPV6
    if flags & ~allowed:
        return -EINVAL
    packet = call.packet
    if offset > 0xFFFF or offset & 1 or offset + 2 > packet.length:
        return -EFAULT  # not 2-byte aligned, or not in the packet (bpf_try_make_writable)
    where = packet.data + offset
    field = int.from_bytes(packet.buf[where : where + 2], "little")
    mangled0 = l4 and bool(flags & BPF_F_MARK_MANGLED_0)
    if mangled0 and not flags & BPF_F_MARK_ENFORCE and field == 0:
        return 0  # a zero UDP checksum means "none": leave it
    size = flags & BPF_F_HDR_FIELD_MASK
    if size == 0:
        if frm != 0:
            return -EINVAL
        field = csum_replace_by_diff(field, to)
    elif size == 2 and l4:
        # the kernel's inet_proto_csum_replace2 widens to inet_proto_csum_replace4, whose
        # 32-bit fold can give 0x0000 where csum_replace2 (the L3 path) gives 0xffff
        field = csum_replace4(field, frm & M16, to & M16)
    elif size == 2:
        field = csum_replace2(field, frm, to)
    elif size == 4:
        field = csum_replace4(field, frm, to)
    else:
        return -EINVAL
    if mangled0 and field == 0:
        field = CSUM_MANGLED_0
    call.ctx.space.write(packet.data_ptr + offset, field.to_bytes(2, "little"))
    return 0


@helper("bpf_l3_csum_replace", "tc")
def bpf_l3_csum_replace(call: HelperCall, skb: int, offset: int, frm: int, to: int, flags: int) -> int:
    """Update a header checksum after a 2- or 4-byte field changed from ``frm`` to ``to``
    (the size is in ``flags``), or by a precomputed difference ``to`` (size 0)."""
    return _replace(call, offset, frm, to, flags, l4=False)


@helper("bpf_l4_csum_replace", "tc")
def bpf_l4_csum_replace(call: HelperCall, skb: int, offset: int, frm: int, to: int, flags: int) -> int:
    """The TCP/UDP variant. BPF_F_MARK_MANGLED_0 leaves a zero (absent) UDP checksum alone
    and never writes 0 (0xffff instead). BPF_F_PSEUDO_HDR and BPF_F_IPV6 only matter for
    skbs whose checksum a device completes (CHECKSUM_PARTIAL/COMPLETE); a test-run skb is
    CHECKSUM_NONE, so the field is updated the same way with or without them."""
    return _replace(call, offset, frm, to, flags, l4=True)


HELPERS: dict[str, HelperImpl] = {
    "bpf_csum_diff": bpf_csum_diff,
    "bpf_l3_csum_replace": bpf_l3_csum_replace,
    "bpf_l4_csum_replace": bpf_l4_csum_replace,
}
