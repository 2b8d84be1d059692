"""Run a console script through a fresh Session and produce its transcript.

The transcript is what a user would see at the console: each line as typed after the
prompt (``(bpfdbg) `` or ``>`` inside a block), then the command's output. Used by the
golden-file tests and by ``python3 -m tests.golden.transcript --update`` to regenerate
the expected files after an intended change (review the diff before committing it).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from bpfdbg.session import Session

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def transcript(script: Path) -> str:
    """Execute ``script`` line by line from the repository root."""
    session = Session()
    interp = session.interpreter
    out: list[str] = []
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for line in script.read_text().splitlines():
            prompt = ">" if interp.in_block else "(bpfdbg)"
            out.append(f"{prompt} {line}".rstrip())
            result = interp.feed(line)
            if result.text:
                out.append(_normalise(result.text))
            if result.quit:
                break
    finally:
        os.chdir(cwd)
    return "\n".join(out) + "\n"


def _normalise(text: str) -> str:
    """What differs between machines: where the checkout is, the kernel release, and the
    kernel verifier's statistics."""
    text = text.replace(str(ROOT), "<repo>")
    text = re.sub(r"\(Linux [^)]+\)", "(Linux <release>)", text)
    return re.sub(
        r"processed \d+ insns \(limit \d+\)[^\n]*", "processed <N> insns (<verifier statistics>)", text
    )


def scripts() -> list[Path]:
    return sorted(HERE.glob("*.cmds"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--update", action="store_true", help="rewrite the .out files")
    parser.add_argument("names", nargs="*", help="script names (default: all)")
    args = parser.parse_args(argv)
    status = 0
    for script in scripts():
        if args.names and script.stem not in args.names:
            continue
        got = transcript(script)
        expected = script.with_suffix(".out")
        if args.update:
            expected.write_text(got)
            print(f"wrote {expected.relative_to(ROOT)}")
        elif not expected.exists() or expected.read_text() != got:
            print(f"differs: {script.name}")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
