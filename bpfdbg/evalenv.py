"""The expression language's view of a Session (bpfdbg.expr.EvalEnv).

Kept apart from the Session so the evaluator sees only what it needs: registers, memory,
convenience variables, ctx fields, maps and the value history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpfdbg import expr
from emulator.elf.btf import Btf
from emulator.memory import MemoryFaultError

if TYPE_CHECKING:
    from bpfdbg.session import Session


class SessionEnv:
    btf: Btf | None

    def __init__(self, session: Session) -> None:
        self.s = session
        self.btf = session.btf if isinstance(session.btf, Btf) else None

    def _machine(self) -> Any:
        if not self.s.started:
            raise expr.EvalError(
                'the program is not being run, so there are no registers or memory; use "start"'
            )
        return self.s.machine()

    def register(self, n: int) -> int:
        return int(self._machine().registers()[n])

    def set_register(self, n: int, value: int) -> None:
        self._machine().set_register(n, value)
        self.s.edited("registers")

    def variable(self, name: str) -> int | None:
        if name in self.s.user_vars:
            return self.s.user_vars[name]
        if not self.s.started:
            return None
        b = self.s.machine()
        if name == "pc":
            return int(b.position()[0])
        if name == "insns":
            return int(b.position()[1])
        if name == "fp":
            return int(b.registers()[10])
        if name == "retval":
            stop = self.s.last_stop
            if stop is not None and stop.retval is not None:
                return stop.retval
            return None
        region_names = {"ctx": ("ctx", "mem"), "pkt": ("pkt",), "pkt_meta": ("pkt_meta",), "mem": ("mem",)}
        if name == "pkt_end":
            for region in self._regions():
                if region.name == "pkt":
                    return int(region.end)
            return None
        for region in self._regions():
            if region.name in region_names.get(name, ()):
                return int(region.base)
        return None

    def _regions(self) -> list[Any]:
        space = getattr(self.s.machine(), "space", None)
        return list(space) if space is not None else []

    def set_variable(self, name: str, value: int) -> None:
        if name in ("pc", "ctx", "pkt", "pkt_end", "pkt_meta", "fp", "retval", "insns"):
            raise expr.EvalError(f"${name} cannot be assigned")
        self.s.user_vars[name] = value & 0xFFFFFFFFFFFFFFFF

    def read_memory(self, addr: int, size: int) -> bytes:
        try:
            return bytes(self._machine().read_memory(addr, size))
        except MemoryFaultError as err:
            raise expr.EvalError(f"cannot access memory: {err.message}") from None

    def write_memory(self, addr: int, data: bytes) -> None:
        try:
            self._machine().write_memory(addr, data)
        except MemoryFaultError as err:
            raise expr.EvalError(f"cannot write memory: {err.message}") from None
        self.s.edited("memory")

    def _ctx(self) -> Any:
        if not self.s.started:
            return None
        return self.s.machine().ctx_handler()

    def ctx_field(self, name: str) -> tuple[int, int] | None:
        handler = self._ctx()
        if handler is None:
            return None
        seen = set()
        for field in getattr(handler, "_by_off", {}).values():
            if field.name == name and field.name not in seen:
                return field.off, field.size
            seen.add(field.name)
        return None

    def ctx_fields(self) -> list[str]:
        handler = self._ctx()
        if handler is None:
            return []
        names: list[str] = []
        for field in getattr(handler, "_by_off", {}).values():
            if field.name not in names:
                names.append(field.name)
        return names

    def map_info(self, name: str) -> Any:
        if not self.s.loaded:
            return None
        try:
            m = self.s.maps[name]
        except KeyError:
            return None
        spec = m.spec
        return expr.MapInfo(
            name, spec.key_size, spec.value_size, spec.key_btf, spec.value_btf, bool(m.percpu)
        )

    def map_names(self) -> list[str]:
        """Every map of the loaded object, in its order (global-data maps included): the
        evaluator finds C globals among the variables of their DATASECs."""
        if not self.s.loaded:
            return []
        return [m.name for m in self.s.maps]

    def map_read(self, name: str, key: bytes) -> bytes | None:
        m = self.s.maps[name]
        element = m.lookup(key, self.s.cpu)
        return bytes(element.data) if element is not None else None

    def map_write(self, name: str, key: bytes, value: bytes) -> None:
        m = self.s.maps[name]
        if m.frozen:
            # `map update` refuses too (EPERM, as bpftool would): a .rodata global is a
            # constant that the kernel's verifier may already have folded into the code.
            raise expr.EvalError(
                f"{name} is frozen: read-only to user space after loading (.rodata globals are"
                " constants; change them in the source or the loader)"
            )
        element = m.lookup(key, self.s.cpu)
        if element is None:
            raise expr.EvalError(f"{name} has no key {key.hex()}")
        element.data[:] = value
        self.s.edited("maps")

    def value_history(self, index: int) -> Any:
        values = self.s.values
        if not values:
            raise expr.EvalError("the value history is empty")
        if index <= 0:  # $ is the last, $$ the one before, $$N N back
            pos = len(values) - 1 + index
        else:
            pos = index - 1
        if not 0 <= pos < len(values):
            raise expr.EvalError(f"history has not yet reached ${index if index > 0 else ''}")
        return values[pos]


def evaluate(session: Session, text: str) -> Any:
    return expr.evaluate(text, SessionEnv(session))
