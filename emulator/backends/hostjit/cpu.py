"""The emulated x86-64 CPU as the host-JIT machine uses it: Unicorn's register ids for the
eBPF registers (the JIT's fixed mapping), and the typed subset of unicorn.Uc it calls."""

from __future__ import annotations

from typing import Any, Protocol, cast

from unicorn import UC_ARCH_X86, UC_MODE_64, UC_TLB_VIRTUAL, Uc
from unicorn import x86_const as X

from emulator.backends.hostjit.x86 import BPF_TO_X86

UC_IDS = (
    X.UC_X86_REG_RAX,
    X.UC_X86_REG_RCX,
    X.UC_X86_REG_RDX,
    X.UC_X86_REG_RBX,
    X.UC_X86_REG_RSP,
    X.UC_X86_REG_RBP,
    X.UC_X86_REG_RSI,
    X.UC_X86_REG_RDI,
    X.UC_X86_REG_R8,
    X.UC_X86_REG_R9,
    X.UC_X86_REG_R10,
    X.UC_X86_REG_R11,
    X.UC_X86_REG_R12,
    X.UC_X86_REG_R13,
    X.UC_X86_REG_R14,
    X.UC_X86_REG_R15,
)
BPF_UC = tuple(UC_IDS[r] for r in BPF_TO_X86)  # Unicorn ids of r0..r10
RIP, RSP, RAX = X.UC_X86_REG_RIP, X.UC_X86_REG_RSP, X.UC_X86_REG_RAX


class Cpu(Protocol):
    """The part of unicorn.Uc (2.1.x) the machine uses; typed here because unicorn's own stubs
    lag behind its Python binding (reg_read_batch, ctl_set_tlb_mode)."""

    def reg_read(self, reg: int) -> int: ...
    def reg_write(self, reg: int, value: int) -> None: ...
    def reg_read_batch(self, regs: tuple[int, ...]) -> tuple[int, ...]: ...
    def emu_start(self, begin: int, until: int, timeout: int = 0, count: int = 0) -> None: ...
    def emu_stop(self) -> None: ...
    def context_save(self) -> object: ...
    def context_restore(self, context: Any) -> None: ...
    def mem_map(self, address: int, size: int, perms: int = ...) -> None: ...
    def mem_write(self, address: int, data: bytes) -> None: ...
    def hook_add(
        self, htype: int, callback: Any, user_data: Any = None, begin: int = 1, end: int = 0
    ) -> int: ...
    def mmio_map(
        self, address: int, size: int, read_cb: Any, read_ud: Any, write_cb: Any, write_ud: Any
    ) -> None: ...
    def ctl_set_tlb_mode(self, mode: int) -> None: ...


def new_cpu() -> Cpu:
    """A 64-bit x86 CPU that runs at kernel-style 0xffff... addresses (unicorn issue #2010:
    needs the virtual TLB mode since 2.1.0)."""
    uc = cast(Cpu, Uc(UC_ARCH_X86, UC_MODE_64))
    uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
    return uc


class BatchReader:
    """Reads a fixed list of 64-bit registers in one ``uc_reg_read_batch`` call with prebuilt
    ctypes arrays: the binding's ``reg_read_batch`` rebuilds them on every call and costs
    about 20 us for eleven registers, this about 2 us (reference/host_jit.md B2). Falls back
    to the binding where its internals are not the 2.1.x ones."""

    def __init__(self, uc: Cpu, regs: tuple[int, ...]) -> None:
        import ctypes

        self._uc = uc
        self._regs = regs
        self._values = [ctypes.c_uint64() for _ in regs]
        self._ids = (ctypes.c_int * len(regs))(*regs)
        self._ptrs = (ctypes.c_void_p * len(regs))(*(ctypes.addressof(v) for v in self._values))
        self._count = ctypes.c_int(len(regs))
        try:
            from unicorn.unicorn_py3.unicorn import uclib

            self._call: Any = uclib.uc_reg_read_batch
            self._handle: Any = uc._uch  # type: ignore[attr-defined]
        except (ImportError, AttributeError):
            self._call = None

    def __call__(self) -> tuple[int, ...]:
        if self._call is None or self._call(self._handle, self._ids, self._ptrs, self._count) != 0:
            return tuple(self._uc.reg_read_batch(self._regs))
        return tuple(v.value for v in self._values)
