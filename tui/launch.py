"""The ``bpfdbg`` command: the TUI, or one of the subcommands of bpfdbg.cli.

``bpfdbg`` alone opens the TUI on the bundled sample (the load balancer and its capture),
``bpfdbg PROG.o [--prog NAME] [--pcap F] [--maps JSON] [-x FILE] [-ex CMD]`` on a program;
``bpfdbg console|run|conformance|triage ...`` are the headless front ends. This module lives in
``tui`` because only ``tui`` may import Textual; it hands everything else to bpfdbg.cli.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from bpfdbg import cli
from bpfdbg.commands.registry import CommandError

SAMPLES = Path(__file__).resolve().parent.parent / "sample_progs"
SAMPLE = ("xdp_lb.o", "pcaps/xdp_lb.pcap", "initial_maps.json")
SUBCOMMANDS = frozenset({"run", "console", "conformance", "triage"})
PASS_THROUGH = frozenset({"-h", "--help", "--version"})


def tui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpfdbg",
        usage="bpfdbg [PROG.o] [--prog NAME] [--pcap FILE] [--maps JSON] [-x FILE] [-ex CMD]\n"
        "       bpfdbg {console,run,conformance,triage} ... (see bpfdbg --help)",
        description="The terminal UI. Without PROG.o it opens the bundled sample (xdp_lb.o and its capture).",
    )
    parser.add_argument("prog", nargs="?", metavar="PROG.o")
    parser.add_argument("--prog", dest="prog_name", metavar="NAME", help="program of the object")
    parser.add_argument("--pcap", metavar="FILE", help="capture whose packets are the input")
    parser.add_argument("--maps", metavar="JSON", help="map entries to install first")
    parser.add_argument(
        "-x", dest="scripts", action="append", default=[], metavar="FILE", help="run FILE first"
    )
    parser.add_argument(
        "-ex", dest="commands", action="append", default=[], metavar="CMD", help="run CMD first"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and (args[0] in SUBCOMMANDS or args[0] in PASS_THROUGH):
        return cli.main(args)
    return run_tui(args)


def run_tui(argv: Sequence[str]) -> int:
    ns = tui_parser().parse_args(argv)
    prog, pcap, maps = ns.prog, ns.pcap, ns.maps
    if prog is None:
        sample = SAMPLES / SAMPLE[0]
        if not sample.exists():
            print(
                f"bpfdbg: the bundled sample is not here ({sample}); "
                "give a program: bpfdbg PROG.o [--pcap F]",
                file=sys.stderr,
            )
            return cli.EXIT_USAGE
        prog = str(sample)
        pcap = pcap or str(SAMPLES / SAMPLE[1])
        maps = maps or str(SAMPLES / SAMPLE[2])
    from bpfdbg.session import Session

    try:
        session = Session.open(prog, prog=ns.prog_name, pcap=pcap, maps=maps)
    except CommandError as err:
        print(f"bpfdbg: {err.message}", file=sys.stderr)
        return cli.EXIT_USAGE
    startup = [f"source {shlex.quote(f)}" for f in ns.scripts] + list(ns.commands)
    from tui.app import make_app

    app = make_app(session, startup=startup)
    app.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
