"""The ``kernel`` backend: the real kernel through bpf(), as an oracle of end states.

It loads the program with the verifier (its log, on acceptance too, in ``verifier_log``;
the reason for a rejection in the LoadReport), and each run is one BPF_PROG_TEST_RUN with
repeat=1 on the run's packet. It cannot step: only the final r0, the packet and (with
maps) map contents are known. It never attaches anything.
Where bpf() is refused the load reports that once, with the reason.
"""

from __future__ import annotations

import struct
from dataclasses import replace
from types import MappingProxyType

from emulator.backends.base import BackendError, Capabilities, LoadReport, NativeInsn
from emulator.backends.kernel.syscall import Bpf, BpfError, VerifierError, available, possible_cpus
from emulator.diagnostics import Diagnostic
from emulator.env import Environment, RunInput
from emulator.isa.fields import PseudoSrc
from emulator.isa.table import Form
from emulator.maps import MapError, MapSet, MapType
from emulator.memory import PKT_BASE
from emulator.program import Program
from emulator.state import (
    Fault,
    MachineState,
    RegionSnapshot,
    StepEvent,
    StopCondition,
    StopEvent,
    StopReason,
)

_KERNEL_TYPES = {"xdp": "xdp", "tc": "sched_cls", "socket": "socket_filter"}
# Map types whose contents user space cannot read element by element.
_UNREADABLE = {
    MapType.PROG_ARRAY,
    MapType.ARRAY_OF_MAPS,
    MapType.HASH_OF_MAPS,
    MapType.RINGBUF,
    MapType.PERF_EVENT_ARRAY,
    MapType.QUEUE,
    MapType.STACK,
    MapType.DEVMAP,
    MapType.DEVMAP_HASH,
    MapType.CPUMAP,
    MapType.XSKMAP,
}
_SKB_CTX_SIZE = 192


class KernelBackend:
    name = "kernel"
    capabilities = Capabilities(
        can_step=False, has_native_view=False, checkpointable=False, raw_programs=False
    )

    def __init__(self) -> None:
        self._bpf: Bpf | None = None
        self._fd: int | None = None
        self._prog: Program | None = None
        self._run = RunInput()
        self._final: StopEvent | None = None
        self._state: MachineState | None = None
        self.verifier_log = ""
        self.output: list[str] = []
        self._env = Environment()
        self._map_fds: list[int] = []

    def load(self, prog: Program, env: Environment) -> LoadReport:
        """Create the maps and load ``prog`` through the verifier.

        ``verifier_log`` holds the verifier's log of this program whether it is accepted
        (the ``processed N insns ...`` summary of log level 1, which ``verify`` shows) or
        rejected (the whole explanation). Tail-call targets loaded afterwards do not
        overwrite it: it is the log of the program asked for.
        """
        self.verifier_log = ""
        kind = _KERNEL_TYPES.get(prog.prog_type)
        if kind is None:
            return self._reject(
                f"{prog.prog_type} programs have no kernel program type to load as "
                "(the kernel runs xdp, tc and socket programs)"
            )
        why = available()
        if why is not None:
            return self._reject(why)
        self.close()
        self._bpf = Bpf()
        self._env = env
        try:
            self._map_fds = self._create_maps(env)
        except (BpfError, MapError) as err:
            return self._reject(f"cannot create the program's maps in the kernel: {err}")
        try:
            btf_fd, func_info = self._btf_args(env, prog)
            self._fd = self._bpf.prog_load(
                prog.encode(),
                kind,
                log_level=1,
                name=prog.name[:15],
                fd_array=self._map_fds or None,
                btf_fd=btf_fd,
                func_info=func_info,
            )
            self.verifier_log = self._bpf.last_log
        except VerifierError as err:
            self.verifier_log = err.log
            last = [line for line in err.log.splitlines() if line.strip()]
            reason = last[-2] if len(last) >= 2 and last[-1].startswith("processed") else (last or ["?"])[-1]
            return self._reject(f"the kernel verifier rejected {prog.name}: {reason}")
        except BpfError as err:
            return self._reject(f"bpf(BPF_PROG_LOAD) failed: {err}")
        try:
            self._fill_prog_arrays(env, kind)
        except (BpfError, KeyError) as err:
            return self._reject(f"cannot fill the program's prog_array maps: {err}")
        self._prog = prog
        return LoadReport(self.name, True)

    def _create_maps(self, env: Environment) -> list[int]:
        """One kernel map per MapSpec (index-aligned with lddw MAP_IDX), with the initial
        contents the object gives (global data, map-in-map slots). prog_array slots stay
        empty: their programs are not loaded into the kernel."""
        assert self._bpf is not None
        fds: list[int] = []
        for spec in env.maps:
            inner_fd = self._bpf.map_create(spec.inner) if spec.inner is not None else 0
            fd = self._bpf.map_create(spec, inner_map_fd=inner_fd)
            fds.append(fd)
            if spec.type in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
                for key, value in spec.initial:
                    index = int.from_bytes(value[:4], "little")
                    self._bpf.map_update(
                        fd, key, fds[index].to_bytes(4, "little") if index < len(fds) else value
                    )
            elif spec.type is not MapType.PROG_ARRAY:
                for key, value in spec.initial:
                    self._bpf.map_update(fd, key, value)
        names = {spec.name: fd for spec, fd in zip(env.maps, fds, strict=True)}
        for name, key, value in env.map_entries:
            if name not in names:
                raise MapError(f"no map {name!r} to add entries to")
            self._bpf.map_update(names[name], key, value)
        return fds

    def _btf_args(self, env: Environment, prog: Program) -> tuple[int, list[tuple[int, int]] | None]:
        """(btf_fd, func_info) when the program calls back into itself (the kernel insists
        on BTF func_info for callbacks), else (0, None)."""
        assert self._bpf is not None
        callbacks = any(
            i is not None
            and i.info is not None
            and i.info.form is Form.LDDW
            and i.info.variant == PseudoSrc.FUNC
            for i in prog.insns
        )
        if env.btf is None or not callbacks:
            return 0, None
        from emulator.elf import encode_btf, func_info

        records = func_info(env.btf, prog)  # type: ignore[arg-type]
        if not records:
            return 0, None
        return self._bpf.btf_load(encode_btf(env.btf)), records  # type: ignore[arg-type]

    def _fill_prog_arrays(self, env: Environment, kind: str) -> None:
        """Load the programs a prog_array names (tail-call targets) and put them in their
        slots, as libbpf does for ``.values = { [0] = &prog }``."""
        assert self._bpf is not None
        loaded: dict[str, int] = {}
        for spec, fd in zip(env.maps, self._map_fds, strict=True):
            for slot, name in spec.initial_programs:
                if name not in loaded:
                    target = next(p for p in env.programs if name in (p.name, p.section))
                    loaded[name] = self._bpf.prog_load(
                        target.encode(), kind, log_level=1, name=target.name[:15], fd_array=self._map_fds
                    )
                self._bpf.map_update(fd, slot.to_bytes(4, "little"), loaded[name].to_bytes(4, "little"))

    def _dump_maps(self) -> dict[str, list[dict[str, object]]]:
        """Kernel map contents in MapSet.dump()'s shape: read them into a mirror MapSet."""
        assert self._bpf is not None
        mirror = MapSet(
            [replace(spec, initial=(), initial_programs=(), frozen=False) for spec in self._env.maps],
            possible_cpus(),
        )
        for spec, fd, m in zip(self._env.maps, self._map_fds, mirror, strict=True):
            if spec.type in _UNREADABLE:
                continue
            vsize = spec.value_size
            if m.percpu:
                vsize = possible_cpus() * ((spec.value_size + 7) & ~7)
            for key, value in self._bpf.map_items(fd, spec.key_size, vsize):
                m.update(key, value, 0)
        return mirror.dump()

    def _reject(self, message: str) -> LoadReport:
        return LoadReport(self.name, False, (Diagnostic(0, "kernel", message),))

    def reset(self, run: RunInput) -> None:
        self._require()
        self._run = run
        self._final = None
        self._state = None

    def step(self) -> StepEvent:
        raise BackendError("the kernel backend cannot step; use run()")

    def run(self, stop: StopCondition) -> StopEvent:
        prog = self._require()
        if self._final is not None:
            return self._final
        assert self._bpf is not None and self._fd is not None
        packet = self._run.packet or b""
        ctx = b""
        if prog.prog_type == "xdp":
            meta = self._run.meta
            ctx = struct.pack("<IIIIII", len(meta), len(meta) + len(packet), 0, 0, 0, 0)
            packet = meta + packet
        if prog.prog_type in ("tc", "socket") and self._run.ctx:
            ctx = _skb_ctx(dict(self._run.ctx))
        try:
            result = self._bpf.test_run(self._fd, packet, ctx)
        except BpfError as err:
            fault = Fault(
                0,
                "kernel",
                f"BPF_PROG_TEST_RUN failed: {err} (the kernel refuses this input; "
                "XDP needs at least 14 bytes, skb programs a full IPv4/IPv6 header)",
            )
            self._final = StopEvent(StopReason.FAULT, 0, 0, fault=fault)
            self._state = MachineState(0, (0,) * 11, 0, (), "faulted", None, fault)
            return self._final
        retval = result.retval
        self._final = StopEvent(StopReason.EXIT, 0, 0, retval=retval)
        out = result.data_out
        regions = {"pkt": RegionSnapshot("pkt", "pkt", PKT_BASE, out)}
        if prog.prog_type == "socket":
            regions["pkt"] = RegionSnapshot("pkt", "pkt", PKT_BASE, out[14:])  # seen from the L3 header
        elif prog.prog_type == "xdp" and len(result.ctx_out) >= 8:
            meta_len = struct.unpack_from("<I", result.ctx_out, 0)[0]  # ctx_out.data: the metadata length
            regions["pkt"] = RegionSnapshot("pkt", "pkt", PKT_BASE, out[meta_len:])
            if meta_len:
                regions["pkt_meta"] = RegionSnapshot("pkt_meta", "pkt_meta", PKT_BASE, out[:meta_len])
        self._state = MachineState(
            0,
            (retval,) + (0,) * 10,
            0,
            (),
            "exited",
            retval,
            None,
            MappingProxyType(regions),
            MappingProxyType(self._dump_maps()),
        )
        return self._final

    def state(self) -> MachineState:
        self._require()
        if self._state is None:
            return MachineState(0, (0,) * 11, 0, (), "ready")
        return self._state

    def native(self, pc: int) -> list[NativeInsn]:
        return []

    def interrupt(self) -> None:
        """A test run is one syscall; there is nothing to interrupt."""

    def close(self) -> None:
        if self._bpf is not None:
            self._bpf.close()
        self._bpf = None
        self._fd = None
        self._map_fds = []

    def _require(self) -> Program:
        if self._prog is None:
            raise BackendError("kernel: no program loaded")
        return self._prog


def _skb_ctx(fields: dict[str, int]) -> bytes:
    """A __sk_buff ctx_in with the fields the test run honours (mark, priority, cb[])."""
    out = bytearray(_SKB_CTX_SIZE)
    offsets = {"mark": 8, "priority": 32, **{f"cb{i}": 48 + 4 * i for i in range(5)}, "tc_index": 44}
    for name, value in fields.items():
        if name in offsets:
            out[offsets[name] : offsets[name] + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")
    return bytes(out)
