"""Where the ELF loader's fixtures are, and which ones are real BPF objects."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"

# Objects that load: every fixture .c except the host-only not_bpf.c and the bad_*.c that
# exist to be rejected, plus the objects the Makefile derives without .BTF.ext.
LOADABLE = sorted(
    p.stem for p in FIXTURES.glob("*.c") if p.stem != "not_bpf" and not p.stem.startswith("bad_")
) + ["xdp_counters_dwarf_only", "subprog_calls_dwarf_only"]


def fixture(name: str) -> Path:
    """Path of fixture object ``name`` (without .o)."""
    return FIXTURES / f"{name}.o"
