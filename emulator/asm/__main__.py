"""``python -m emulator.asm FILE [-o OUT]``: assemble a text file into raw 8-byte slots.

Used to build the raw sample programs; either dialect, as :func:`emulator.asm.assemble`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from emulator.asm import assemble_bytes
from emulator.errors import AsmError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulator.asm", description=__doc__.split("\n")[0])
    parser.add_argument("source", help="assembly text (LLVM/bpftool or bpf_conformance dialect)")
    parser.add_argument("-o", "--output", help="output file (default: SOURCE with .bin)")
    args = parser.parse_args(argv)
    source = Path(args.source)
    try:
        code = assemble_bytes(source.read_text())
    except OSError as err:
        print(f"cannot read {source}: {err.strerror or err}", file=sys.stderr)
        return 2
    except AsmError as err:
        where = f"{source}:{err.line}" if err.line is not None else str(source)
        print(
            f"{where}: {err.reason}" + (f": {err.text.strip()!r}" if err.text.strip() else ""),
            file=sys.stderr,
        )
        return 1
    out = Path(args.output) if args.output else source.with_suffix(".bin")
    out.write_bytes(code)
    print(f"{out}: {len(code) // 8} slots")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
