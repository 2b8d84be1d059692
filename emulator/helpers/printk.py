"""bpf_trace_printk / bpf_trace_vprintk formatting, as the kernel renders it into trace_pipe.

The kernel accepts a restricted printf: conversions d i u x X c s p (with the pointer forms
pK px pS pB pi4 pI4 pi6 pI6), length modifiers l and ll (h and hh are rejected), flags
``- + space 0 #``, a width and a precision given as digits; at most 3 arguments for
trace_printk (12 for trace_vprintk). A format the kernel rejects makes the helper return
-EINVAL and print nothing, so we do the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

EINVAL = 22
_SPEC = re.compile(r"%(?P<flags>[-+ 0#]*)(?P<width>\d*)(?:\.(?P<prec>\d+))?(?P<len>l{0,2}|h{1,2}|z)?"
                   r"(?P<conv>p[iI][46]|p[KxSsBb]?|[diuxXcs%])")  # fmt: skip

ReadString = Callable[[int], bytes]  # address -> bytes up to (not including) NUL
ReadBytes = Callable[[int, int], bytes]


class PrintkError(ValueError):
    """The kernel would refuse this format (the helper returns -EINVAL)."""


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def format_printk(fmt: bytes, args: Sequence[int], read_string: ReadString, read_bytes: ReadBytes,
                  max_args: int = 3) -> str:  # fmt: skip
    """The text the kernel prints for this format and these (raw u64) arguments."""
    text = fmt.split(b"\0", 1)[0].decode("latin-1")
    out: list[str] = []
    pos = 0
    argi = 0
    while True:
        nxt = text.find("%", pos)
        if nxt < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:nxt])
        match = _SPEC.match(text, nxt)
        if match is None:
            raise PrintkError(f"unsupported conversion at {text[nxt : nxt + 4]!r}")
        pos = match.end()
        conv = match["conv"]
        if conv == "%":
            out.append("%")
            continue
        if match["len"] in ("h", "hh", "z"):
            raise PrintkError(f"length modifier {match['len']!r} is not allowed")
        if argi >= max_args:
            raise PrintkError(f"more than {max_args} arguments")
        raw = args[argi] & 0xFFFFFFFFFFFFFFFF
        argi += 1
        bits = 64 if match["len"] in ("l", "ll") else 32
        spec = f"%{match['flags']}{match['width']}" + (f".{match['prec']}" if match["prec"] else "")
        if conv in ("d", "i"):
            out.append((spec + "d") % _signed(raw, bits))
        elif conv in ("u", "x", "X"):
            out.append((spec + ("d" if conv == "u" else conv)) % (raw & ((1 << bits) - 1)))
        elif conv == "c":
            out.append((spec + "c") % chr(raw & 0xFF))
        elif conv == "s":
            out.append((spec + "s") % read_string(raw).decode("latin-1"))
        elif conv in ("pi4", "pI4"):
            octets = read_bytes(raw, 4)
            out.append(".".join(f"{b:03d}" if conv == "pi4" else str(b) for b in octets))
        elif conv in ("pi6", "pI6"):
            data = read_bytes(raw, 16)
            if conv == "pi6":
                out.append(data.hex())
            else:
                out.append(":".join(data[i : i + 2].hex() for i in range(0, 16, 2)))
        elif conv == "pK":
            out.append("0000000000000000")  # kptr_restrict hides pointers from unprivileged readers
        else:  # %p, %px, %pS, %pB: the value in hex
            out.append(f"{raw:016x}" if conv in ("px", "pS", "pB", "ps", "pb") else f"{raw:x}")
    return "".join(out)
