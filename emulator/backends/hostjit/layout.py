"""Where the host-JIT machine puts native things in Unicorn's 64-bit address space.

Data (ctx, packet, stack frames, map values) stays exactly where emulator.memory puts it for
every backend, so pointer values agree with the interpreter. Native code lives at
kernel-looking addresses, as BPF images do (module area), with the helper trampolines
within +-2 GiB so that ``call rel32`` reaches them, as in the kernel.
"""

from __future__ import annotations

IMAGE_BASE = 0xFFFF_FFFF_A000_0000  # JIT images (one window per program of the object)
IMAGE_WINDOW = 0x0100_0000  # 16 MiB per program
MAX_PROGRAMS = 64
TRAMPOLINE_BASE = 0xFFFF_FFFF_8100_0000  # helper i's trampoline: TRAMPOLINE_BASE + 8 * i
SPECIAL_BASE = TRAMPOLINE_BASE + 0x8000  # trampolines for what the kernel rewrites away
TRAMPOLINE_SIZE = 0x10000
RET_TRAP = 0xFFFF_FFFF_8200_0000  # return address of the fake caller of the program
CALLBACK_RET = 0xFFFF_FFFF_8200_0010  # return address a helper's callback frame is given

# special trampolines (in the kernel these are rewritten by the verifier, or rejected)
SPECIALS = ("ld_abs", "ld_ind", "kfunc", "callx", "fall_off", "bad_pc")

DATA_BASE = 0x1_0000_0000  # start of the data windows (ctx) ...
DATA_END = 0x100_0000_0000  # ... through the map windows: one MMIO range


def helper_trampoline(hid: int) -> int:
    return TRAMPOLINE_BASE + 8 * hid


def special_trampoline(name: str) -> int:
    return SPECIAL_BASE + 8 * SPECIALS.index(name)


def image_window(index: int) -> int:
    return IMAGE_BASE + index * IMAGE_WINDOW
