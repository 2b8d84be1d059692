"""The real verifier accepts every program the loader produces, with the object's maps.

This is the reference for relocation: map and global-data lddws (MAP_IDX / MAP_IDX_VALUE
through fd_array), bpf-to-bpf call offsets, callback addresses and appended subprograms
must all be right, or the kernel refuses the program. Skipped where bpf() is not allowed.
"""

from __future__ import annotations

import pytest

from emulator.backends.kernel.syscall import Bpf, VerifierError, available
from emulator.elf import Btf, load_object
from emulator.elf.btf_encode import encode_btf, func_info
from emulator.program import Program
from tests.emulator.elf.kernel_maps import KernelMaps, load_btf, load_program, load_with_btf, needs_btf
from tests.emulator.elf.paths import LOADABLE, fixture

REASON = available()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def _rejected(name: str, prog: Program, how: str, err: VerifierError) -> None:
    pytest.fail(f"{name}: {prog.name} rejected ({how}): {err}\n{err.log[-3000:]}")


@pytest.mark.parametrize("name", LOADABLE)
def test_every_program_passes_the_verifier(name: str) -> None:
    """Without BTF through Bpf.prog_load (where the program does not need BTF), and with the
    object's BTF and func_info for every program, as libbpf would load it."""
    obj = load_object(fixture(name))
    assert isinstance(obj.btf, Btf)
    with Bpf() as bpf:
        maps = KernelMaps(bpf)
        try:
            fds = maps.create_all(obj.maps)
            btf_fd = load_btf(bpf, encode_btf(obj.btf))
            maps.fds.append(btf_fd)
            loaded = []
            for prog in obj.programs:
                if prog.prog_type not in ("xdp", "tc", "socket", "sk_skb"):
                    continue  # raw: no kernel type to load it as
                funcs = func_info(obj.btf, prog)
                assert [pc for pc, _ in funcs] == sorted(prog.symbols)
                try:
                    load_with_btf(prog, fds, btf_fd, funcs)
                except VerifierError as err:
                    _rejected(name, prog, "with BTF", err)
                if prog.prog_type != "sk_skb" and not needs_btf(prog):
                    try:
                        load_program(bpf, prog, fds)
                    except VerifierError as err:
                        _rejected(name, prog, "Bpf.prog_load", err)
                loaded.append(prog.name)
            assert loaded
        finally:
            maps.close()
