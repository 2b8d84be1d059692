"""Program types by name: ``raw``, ``xdp``, ``tc``, ``socket``."""

from __future__ import annotations

from emulator.progtypes.base import ProgType, RunSetup
from emulator.progtypes.raw import RAW
from emulator.progtypes.skb import SOCKET, TC
from emulator.progtypes.xdp import XDP

PROG_TYPES: dict[str, ProgType] = {"raw": RAW, "xdp": XDP, "tc": TC, "socket": SOCKET}


def prog_type(name: str) -> ProgType:
    try:
        return PROG_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown program type {name!r} (known: {', '.join(PROG_TYPES)})") from None


__all__ = ["PROG_TYPES", "ProgType", "RunSetup", "prog_type"]
