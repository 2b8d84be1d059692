"""Helpers without side effects on the packet or maps: time, randomness, CPU, trace output."""

from __future__ import annotations

from emulator.helpers.printk import PrintkError, format_printk
from emulator.helpers.registry import HelperContext, HelperFaultError
from emulator.memory import MemoryFaultError

EINVAL = 22
JIFFIES_PER_NS = 250 / 1_000_000_000  # CONFIG_HZ=250


def ktime_get_ns(ctx: HelperContext, *_: int) -> int:
    return ctx.now_ns()


def jiffies64(ctx: HelperContext, *_: int) -> int:
    return int(ctx.now_ns() * JIFFIES_PER_NS)


def get_prandom_u32(ctx: HelperContext, *_: int) -> int:
    return ctx.random_u32()


def get_smp_processor_id(ctx: HelperContext, *_: int) -> int:
    return ctx.cpu


def _c_string(ctx: HelperContext, addr: int, limit: int = 1024) -> bytes:
    """Bytes at ``addr`` up to a NUL, reading byte by byte within the region."""
    out = bytearray()
    for i in range(limit):
        byte = ctx.space.read(addr + i, 1)
        if byte == b"\0":
            break
        out += byte
    return bytes(out)


def _emit_lines(ctx: HelperContext, text: str) -> int:
    for line in text.rstrip("\n").split("\n") if text else [""]:
        ctx.emit(f"bpf_trace_printk: {line}")
    return len(text.encode("latin-1"))


def trace_printk(ctx: HelperContext, fmt: int, fmt_size: int, a1: int, a2: int, a3: int) -> int:
    """bpf_trace_printk(fmt, fmt_size, ...): up to three arguments, in registers."""
    try:
        fmt_bytes = ctx.space.read(fmt, fmt_size)
    except MemoryFaultError as err:
        raise HelperFaultError(f"bpf_trace_printk: format string: {err.message}") from None
    if not fmt_bytes or fmt_bytes[-1] != 0:  # the kernel wants fmt[fmt_size - 1] == '\0'
        return -EINVAL
    try:
        text = format_printk(fmt_bytes, (a1, a2, a3), lambda a: _c_string(ctx, a),
                             lambda a, n: ctx.space.read(a, n))  # fmt: skip
    except (PrintkError, MemoryFaultError):
        return -EINVAL
    return _emit_lines(ctx, text)


def trace_vprintk(ctx: HelperContext, fmt: int, fmt_size: int, data: int, data_len: int, _: int) -> int:
    """bpf_trace_vprintk(fmt, fmt_size, data, data_len): arguments as an array of u64."""
    if data_len % 8 or data_len > 8 * 12:
        return -EINVAL
    try:
        fmt_bytes = ctx.space.read(fmt, fmt_size)
        raw = ctx.space.read(data, data_len) if data_len else b""
    except MemoryFaultError as err:
        raise HelperFaultError(f"bpf_trace_vprintk: {err.message}") from None
    args = [int.from_bytes(raw[i : i + 8], "little") for i in range(0, len(raw), 8)]
    try:
        text = format_printk(fmt_bytes, args, lambda a: _c_string(ctx, a),
                             lambda a, n: ctx.space.read(a, n), max_args=12)  # fmt: skip
    except (PrintkError, MemoryFaultError):
        return -EINVAL
    return _emit_lines(ctx, text)
