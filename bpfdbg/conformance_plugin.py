"""``bpfdbg-conformance-plugin``: the bpf_conformance plugin protocol (conformance.md part 2).

The official runner starts this once per test: argv is ``[MEM] [OPT ...] [--elf]`` where
MEM (present only for tests with memory) is hex bytes each followed by two spaces; stdin is
the program as hex bytes, then a newline. On success we print r0 in hex and exit 0; on
failure we print the reason to stderr and exit non-zero (the runner shows stdout if it is
non-empty, else stderr).

Options (given through the runner's ``--plugin_options``): ``--backend NAME`` picks the
backend, ``--debug`` reports the instruction count and how the run stopped on stderr,
``--budget N`` caps the run.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from bpfdbg.headless import RunRejected, run_once
from emulator.errors import EmulatorError
from emulator.program import Program
from emulator.state import StopReason


def _hex_bytes(text: str) -> bytes:
    tokens = text.split()
    try:
        return bytes(int(t, 16) for t in tokens)
    except ValueError as err:
        raise ValueError(f"expected hex bytes separated by spaces: {err}") from None


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    mem = b""
    if args and not args[0].startswith("--"):
        try:
            mem = _hex_bytes(args.pop(0))
        except ValueError as err:
            print(f"bad memory argument: {err}", file=stderr)
            return 2
    backend = "interp"
    budget: int | None = None
    debug = False
    elf = False
    while args:
        opt = args.pop(0)
        if opt == "":
            continue
        if opt == "--backend" and args:
            backend = args.pop(0)
        elif opt == "--budget" and args:
            budget = int(args.pop(0), 0)
        elif opt == "--debug":
            debug = True
        elif opt == "--elf":
            elf = True
        elif opt in ("--xdp_prolog", "--help"):
            print(f"option {opt} is not supported by bpfdbg's plugin", file=stderr)
            return 2
        else:
            print(f"unknown option {opt!r} (known: --backend NAME, --budget N, --debug)", file=stderr)
            return 2
    if elf:
        print(
            "ELF input (--elf) needs the ELF loader, which this version of bpfdbg does not "
            "have yet; run without --elf true",
            file=stderr,
        )
        return 2
    try:
        code = _hex_bytes(stdin.read())
    except ValueError as err:
        print(f"bad program on stdin: {err}", file=stderr)
        return 2
    try:
        prog = Program.from_bytes(code)
        result = run_once(prog, mem, backend, budget=budget)
    except (EmulatorError, RunRejected, KeyError) as err:
        print(str(err).strip("'\""), file=stderr)
        return 1
    if debug:
        print(f"{result.insns} instructions, stopped: {result.reason.value}", file=stderr)
    if result.reason is StopReason.EXIT and result.retval is not None:
        print(f"{result.retval:x}", file=stdout)
        return 0
    if result.fault is not None:
        print(str(result.fault), file=stderr)
    else:
        print(f"program did not exit: {result.reason.value} after {result.insns} instructions", file=stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
