"""Command-line entry points (DESIGN.md "Command line").

Every error a user can cause (missing file, bad bytes, unknown backend) ends in one line on
stderr that says what to do, and a non-zero exit status; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bpfdbg import __version__
from bpfdbg.capture import CaptureError, parse_hex_packet, read_capture, read_map_entries
from bpfdbg.commands.registry import CommandError, CommandResult
from bpfdbg.headless import RunRejected, result_json, run_once
from bpfdbg.packets import LAYERS, PacketSpecError, build_packet
from emulator.backends.base import backend_names, create
from emulator.bpfobject import BpfObject
from emulator.elf import load_object
from emulator.env import DEFAULT_BUDGET, Environment
from emulator.errors import DecodeError, ElfLoadError
from emulator.program import Program
from emulator.progtypes import PROG_TYPES
from emulator.state import StopReason

if TYPE_CHECKING:
    from bpfdbg.commands.interpreter import Interpreter
    from bpfdbg.session import Session

EXIT_OK, EXIT_PROGRAM, EXIT_USAGE = 0, 1, 2


class CliError(Exception):
    """A user mistake; the message is printed as ``bpfdbg: <message>``."""


def _parse_hex(text: str, what: str) -> bytes:
    cleaned = "".join(text.split()).removeprefix("0x")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise CliError(
            f"{what} must be hex bytes like 'de ad be ef' or 'deadbeef', got {text[:40]!r}"
        ) from None


def _read_program(path: str, raw: bool, name: str | None = None) -> tuple[Program, BpfObject | None]:
    """The program to run: from an ELF object (``--prog`` picks one) or raw slots."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror or err}") from None
    if data[:4] == b"\x7fELF" and not raw:
        try:
            obj = load_object(path)
        except ElfLoadError as err:
            raise CliError(str(err)) from None
        if name is not None:
            try:
                return obj.program(name), obj
            except KeyError as err:
                raise CliError(str(err.args[0])) from None
        if len(obj.programs) > 1:
            others = ", ".join(p.name for p in obj.programs[1:])
            print(f"bpfdbg: running {obj.programs[0].name}, the first of {len(obj.programs)} programs "
                  f"(also: {others}); choose one with --prog NAME", file=sys.stderr)  # fmt: skip
        return obj.programs[0], obj
    if data[:4] == b"\x7fELF":
        raise CliError(f"{path} is an ELF object, not raw instruction slots; run it without --raw")
    if not raw:
        raise CliError(f"{path} is not an ELF object; if it holds raw 8-byte instruction slots, add --raw")
    if name is not None:
        raise CliError("--prog picks a program of an ELF object; a raw file holds one program")
    if not data:
        raise CliError(f"{path} is empty: no instructions to run")
    if len(data) % 8:
        raise CliError(f"{path} is {len(data)} bytes, not a multiple of 8: raw eBPF programs are "
                       "8-byte instruction slots")  # fmt: skip
    try:
        return Program.from_bytes(data, name=Path(path).stem), None
    except DecodeError as err:
        lines = [str(d) for d in err.diagnostics]
        more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
        raise CliError(f"{path}: {lines[0]}{more}") from None


def _packet_from_args(args: argparse.Namespace) -> bytes | None:
    if args.packet and args.pcap:
        raise CliError("give either --packet HEX or --pcap FILE, not both")
    try:
        if args.packet:
            if any(ch in args.packet for ch in "/(") or args.packet.strip() in LAYERS:
                return build_packet(args.packet)
            return parse_hex_packet(args.packet)
        if args.pcap:
            packets = read_capture(args.pcap)
            if not packets:
                raise CliError(f"{args.pcap} holds no packets")
            index = args.packet_index
            if not 0 <= index < len(packets):
                raise CliError(f"--packet-index {index} is out of range: {args.pcap} has "
                               f"{len(packets)} packets (0-{len(packets) - 1})")  # fmt: skip
            return packets[index].data
    except (CaptureError, PacketSpecError) as err:
        raise CliError(str(err)) from None
    return None


def _map_entries(args: argparse.Namespace) -> tuple[tuple[str, bytes, bytes], ...]:
    if not args.maps:
        return ()
    try:
        return read_map_entries(args.maps, Path(args.prog).name)
    except CaptureError as err:
        raise CliError(str(err)) from None


def _cmd_run(args: argparse.Namespace) -> int:
    backends = args.backend or ["interp"]
    known = backend_names()
    for name in backends:
        if name not in known:
            raise CliError(f"unknown backend {name!r}; available: {', '.join(known)}")
    prog, obj = _read_program(args.prog, args.raw, args.prog_name)
    if args.type:
        prog = replace(prog, prog_type=args.type)
    mem = _parse_hex(args.mem, "--mem") if args.mem else b""
    packet = _packet_from_args(args)
    if packet is not None and prog.prog_type == "raw":
        raise CliError("--packet and --pcap need a program type with a packet; add --type xdp, tc or socket")
    entries = _map_entries(args)
    if len(backends) > 1:
        return _run_lockstep(args, backends, prog, obj, mem, packet, entries)
    try:
        if obj:
            env = Environment.for_object(obj, budget=args.budget, map_entries=entries)
        else:
            env = Environment(budget=args.budget)
        result = run_once(prog, mem, backends[0], env, packet=packet)
    except RunRejected as err:
        raise CliError(f"{args.prog} rejected by {backends[0]}: {err}") from None
    if args.json:
        print(json.dumps(result_json(result)))
    else:
        for line in result.trace:
            print(line)
        if result.reason is StopReason.EXIT:
            assert result.retval is not None
            action = f" {result.action}" if result.action else ""
            counted = f", {result.insns} instructions" if create(result.backend).capabilities.can_step else ""
            print(f"r0 = {result.retval:#x} ({result.retval}){action}{counted}")
            if packet is not None and result.packet_out is not None and result.packet_out != packet:
                size = f"{len(result.packet_out)} bytes, was {len(packet)}"
                print(f"packet out ({size}): {result.packet_out.hex()}")
        elif result.fault is not None:
            print(f"{result.fault} ({result.insns} instructions executed)")
        else:
            print(
                f"stopped at insn {result.stopped_at} after {result.insns} instructions: "
                "instruction budget spent (endless loop?); raise it with --budget N"
            )
    return EXIT_OK if result.reason is StopReason.EXIT else EXIT_PROGRAM


def _run_lockstep(
    args: argparse.Namespace,
    backends: list[str],
    prog: Program,
    obj: BpfObject | None,
    mem: bytes,
    packet: bytes | None,
    entries: tuple[tuple[str, bytes, bytes], ...],
) -> int:
    """``bpfdbg run PROG --backend A --backend B``: every backend on the same input, compared
    after each instruction; agreement, or the first divergence with each side's values and
    native code. Exit 0 when they agree, 1 when they diverge."""
    from bpfdbg.lockstep import LoadMismatch, Lockstep, divergence_lines
    from bpfdbg.render.code import program_resolver
    from emulator.disasm import format_insn
    from emulator.env import RunInput

    def make_env() -> Environment:
        if obj is not None:
            return Environment.for_object(obj, budget=args.budget, map_entries=entries)
        return Environment(budget=args.budget)

    try:
        engine = Lockstep(prog, make_env, backends)
    except LoadMismatch as err:
        raise CliError(f"{args.prog} cannot run in lockstep: {err}") from None
    except ValueError as err:
        raise CliError(str(err)) from None
    engine.reset(RunInput(mem=mem, packet=packet, budget=args.budget))
    result = engine.run(args.budget)
    resolver = program_resolver(obj, prog)

    def text(pc: int, program: str) -> str:
        insn = prog.insn_at(pc) if program == prog.name else None
        return format_insn(insn, pc, dialect="llvm", resolver=resolver) if insn is not None else "?"

    ref_end = result.ends.get(backends[0])
    if args.json:
        divergence = None
        if result.divergence is not None:
            divergence = result.divergence.to_json()
            divergence["insn"] = text(result.divergence.pc, result.divergence.program)
        data = {
            "backends": backends,
            "agreed": result.agreed,
            "insns": result.insns,
            "retval": ref_end.retval if ref_end is not None else None,
            "divergence": divergence,
        }
        print(json.dumps(data))
    elif result.divergence is not None:
        print("\n".join(divergence_lines(result.divergence, text)))
    else:
        end = "the instruction budget ran out"
        if ref_end is not None and ref_end.reason is StopReason.EXIT:
            end = f"r0 = {ref_end.retval:#x} ({ref_end.retval})"
        elif ref_end is not None and ref_end.fault is not None:
            end = f"{ref_end.fault}"
        print(f"{' and '.join(backends)} agree on all {result.insns} instructions: {end}")
    return EXIT_OK if result.agreed else EXIT_PROGRAM


def _cmd_conformance(args: argparse.Namespace) -> int:
    from bpfdbg.conformance import data_files, run_case

    directory = Path(args.dir)
    if not directory.is_dir():
        raise CliError(f"{directory} is not a directory of bpf_conformance .data files")
    if args.backend not in backend_names():
        raise CliError(f"unknown backend {args.backend!r}; available: {', '.join(backend_names())}")
    if not create(args.backend).capabilities.raw_programs:
        raise CliError(f"the {args.backend} backend cannot run conformance tests: they are raw programs "
                       "(r1 = a memory buffer), which it has no program type for")  # fmt: skip
    results = []
    for path in data_files(directory, args.include, args.exclude):
        case = run_case(path, args.backend)
        results.append(case)
        if case.outcome == "fail":
            print(f"FAIL: {case.name}: {case.message}")
        elif case.outcome == "skip":
            print(f"SKIP: {case.name}: {case.message}")
        elif case.outcome == "rejected":
            print(f"REJECTED: {case.name}: {case.message}")
        elif args.verbose:
            print(f"PASS: {case.name}")
    if not results:
        raise CliError(f"no .data files in {directory}")
    from bpfdbg.conformance import summary_line

    print(summary_line(results))
    return EXIT_OK if all(r.outcome != "fail" for r in results) else EXIT_PROGRAM


def _cmd_triage(args: argparse.Namespace) -> int:
    """``bpfdbg triage PROG.o --pcap F``: load verdicts, every packet in lockstep, and the
    report of divergence classes with their explanations (bpfdbg.triage). Exit 0 when every
    packet agrees, 1 on a divergence or a refusal."""
    from bpfdbg.render.triage import render
    from bpfdbg.triage import TriageError, TriageSpec, triage

    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    spec = TriageSpec(
        program_path=args.prog,
        pcap_path=args.pcap,
        prog_name=args.prog_name,
        maps_path=args.maps,
        backends=backends,
        profile=args.profile,
        budget=args.budget,
    )
    if args.jobs < 1:
        raise CliError(f"--jobs must be at least 1, got {args.jobs}")
    show = args.progress if args.progress is not None else _is_tty(sys.stderr)
    bar = _ProgressBar(sys.stderr) if show else None
    try:
        report = triage(spec, jobs=args.jobs, progress=bar)
    except TriageError as err:
        raise CliError(str(err)) from None
    finally:
        if bar is not None:
            bar.close()
    text = render(report, args.format)
    if args.output:
        try:
            Path(args.output).write_text(text)
        except OSError as err:
            raise CliError(f"cannot write {args.output}: {err.strerror or err}") from None
    else:
        sys.stdout.write(text)
    return report.exit_status


class _ProgressBar:
    """``triage [####----] 120/1,000 packets 80 pkt/s ETA 0:11`` redrawn in place on stderr,
    at most ten times a second; stdout stays clean for the report."""

    def __init__(self, stream: TextIO) -> None:
        import time

        self.stream = stream
        self.clock = time.monotonic
        self.started = self.clock()
        self.shown = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        from bpfdbg.render.triage import progress_line

        now = self.clock()
        if done < total and now - self.shown < 0.1:
            return
        self.shown = now
        self.stream.write("\r" + progress_line(done, total, now - self.started) + "\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


# -- bpfdbg console ------------------------------------------------------------------------
class _Startup(argparse.Action):
    """-x FILE and -ex CMD share one list so they run in the order given, as in gdb."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        steps = list(getattr(namespace, "startup", None) or [])
        steps.append((self.const, str(values)))
        namespace.startup = steps


def _packet_summary(data: bytes) -> str:
    """``74 bytes, eth/ipv4/tcp 10.0.0.1:40000 -> 10.0.0.2:80 [S]`` (the header summary the
    packet pane shows), or the length alone when the frame cannot be described."""
    try:
        from bpfdbg.render.packet import summary
    except ImportError:
        return f"{len(data)} bytes"
    try:
        return f"{len(data)} bytes, {summary(data)}"
    except Exception:  # a frame the decoder trips on: the length still helps
        return f"{len(data)} bytes"


def console_banner(session: Session) -> list[str]:
    """What was loaded, in one line each (the Console mockup in reference/mockups.md)."""
    if not session.loaded:
        lines = [f'bpfdbg {__version__}: no program loaded; "load FILE.o" loads one, "help" lists commands']
    else:
        progs = session.programs
        described = []
        for prog in progs:
            ninsns = sum(1 for insn in prog.insns if insn is not None)
            described.append(f"{prog.name}: {prog.prog_type}, {ninsns} insns")
        plural = "s" if len(progs) != 1 else ""
        line = (
            f"bpfdbg: {Path(session.path or '').name}: {len(progs)} program{plural} ({'; '.join(described)})"
        )
        if len(progs) > 1:
            line += f", {session.program.name} selected"
        maps = list(session.maps)
        if maps:
            shapes = ", ".join(
                f"{m.name}: {m.spec.type.label} {m.spec.key_size}->{m.spec.value_size}" for m in maps
            )
            line += f", {len(maps)} map{'s' if len(maps) != 1 else ''} ({shapes})"
        lines = [line]
    if session.packets:
        index = session.packet_index or 0
        count = len(session.packets)
        summary = _packet_summary(session.packets[index].data)
        lines.append(
            f"capture: {count} packet{'s' if count != 1 else ''}; packet {index + 1} selected ({summary})"
        )
    return lines


def _console_session(args: argparse.Namespace) -> Session:
    from bpfdbg.session import Session

    if args.prog is None:
        if args.prog_name or args.maps:
            raise CliError("--prog and --maps need a program: bpfdbg console PROG.o ...")
        session = Session()
        if args.pcap:
            try:
                session.load_capture(args.pcap)
            except CommandError as err:
                raise CliError(err.message) from None
        return session
    try:
        return Session.open(args.prog, prog=args.prog_name, pcap=args.pcap, maps=args.maps)
    except CommandError as err:
        raise CliError(err.message) from None


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _feed_stdin(interpreter: Interpreter, show: Callable[[CommandResult], bool]) -> bool:
    """Run the lines of stdin as typed; True when one of them quit."""
    try:
        for line in sys.stdin:
            if show(interpreter.feed(line.rstrip("\n"))):
                return True
    except OSError:  # stdin closed or unreadable (a test runner's capture): nothing to run
        pass
    return False


def _cmd_console(args: argparse.Namespace) -> int:
    from bpfdbg.console.repl import print_result

    session = _console_session(args)
    if not (args.quiet or args.batch):
        print("\n".join(console_banner(session)))
    for warning in session.load_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    failed = False
    status: int | None = None

    def show(result: CommandResult) -> bool:
        """Print a result; True when it asks to quit."""
        nonlocal failed, status
        print_result(result, sys.stdout, sys.stderr, interactive=False)
        if not result.ok or result.expect_failed:
            failed = True
        if result.quit:
            data = result.data if isinstance(result.data, dict) else {}
            status = data.get("status") if isinstance(data.get("status"), int) else None
        return result.quit

    interpreter = session.interpreter
    for kind, value in args.startup or []:
        line = f"source {shlex.quote(value)}" if kind == "x" else value
        if show(interpreter.execute(line)):
            return status if status is not None else (EXIT_PROGRAM if failed and args.batch else EXIT_OK)
    piped = not _is_tty(sys.stdin)
    if args.batch or piped:
        # gdb reads commands from a non-terminal stdin without a prompt: `... --batch < script`
        if piped and _feed_stdin(interpreter, show):
            return status if status is not None else (EXIT_PROGRAM if failed and args.batch else EXIT_OK)
        if interpreter.in_block:
            block = interpreter.block
            assert block is not None
            interpreter.block = None
            print(f"bpfdbg: input ended inside {block.kind} {block.name}: missing 'end'", file=sys.stderr)
            failed = True
        if status is not None:
            return status
        return EXIT_PROGRAM if failed and args.batch else EXIT_OK
    from bpfdbg.console.repl import Console

    code = Console(session).run()
    return status if status is not None else code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bpfdbg",
        description="An interactive debugger for eBPF programs.",
        epilog="example: bpfdbg run sample_progs/xdp_firewall.o --pcap sample_progs/pcaps/xdp_firewall.pcap "
        "--packet-index 1 --maps sample_progs/initial_maps.json",
    )
    parser.add_argument("--version", action="version", version=f"bpfdbg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a program once, headless, and print r0 (or JSON)")
    run.add_argument("prog", metavar="PROG", help="program file")
    run.add_argument(
        "--prog", dest="prog_name", metavar="NAME", help="program of the object (function or section)"
    )
    run.add_argument("--raw", action="store_true", help="PROG is a file of 8-byte instruction slots")
    run.add_argument("--type", choices=sorted(PROG_TYPES), help="program type (raw programs default to raw)")
    run.add_argument(
        "--packet", metavar="HEX", help="the frame: hex, or built like 'eth/ipv4(dst=10.0.0.1)/tcp(dport=80)'"
    )
    run.add_argument("--pcap", metavar="FILE", help="take the packet from a pcap/pcapng capture")
    run.add_argument(
        "--packet-index", type=int, default=0, metavar="N", help="which packet of --pcap (from 0)"
    )
    run.add_argument("--maps", metavar="JSON", help="map entries to install first ({map: [{key, value}]})")
    run.add_argument("--mem", metavar="HEX", help="input memory: r1 points at a copy, r2 is its length")
    run.add_argument("--backend", action="append", metavar="NAME", help="backend (default interp)")
    run.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        metavar="N",
        help=f"stop after N instructions (default {DEFAULT_BUDGET})",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.set_defaults(func=_cmd_run)

    con = sub.add_parser(
        "console",
        help="gdb-like console (-x FILE, -ex CMD, --batch for scripts and CI)",
        description="The gdb-like console. -x FILE and -ex CMD run in the order given; with --batch "
        "bpfdbg exits afterwards (reading more commands from stdin when it is not a terminal), "
        "with status 1 when a command failed or an expect did not hold.",
    )
    con.add_argument("prog", nargs="?", metavar="PROG.o", help="object to debug (or load it later)")
    con.add_argument(
        "--prog", dest="prog_name", metavar="NAME", help="program of the object (function or section)"
    )
    con.add_argument("--pcap", metavar="FILE", help="capture whose packets are the input")
    con.add_argument("--maps", metavar="JSON", help="map entries to install first ({map: [{key, value}]})")
    con.add_argument(
        "-x", dest="startup", action=_Startup, const="x", metavar="FILE", help="run the commands in FILE"
    )
    con.add_argument(
        "-ex", "--eval-command", dest="startup", action=_Startup, const="ex", metavar="CMD", help="run CMD"
    )
    con.add_argument("--batch", "-batch", action="store_true", help="run -x/-ex (and stdin), then exit")
    con.add_argument("-q", "--quiet", action="store_true", help="no banner")
    con.set_defaults(func=_cmd_console, startup=[])

    conf = sub.add_parser("conformance", help="run a directory of bpf_conformance .data tests")
    conf.add_argument("dir", metavar="DIR")
    conf.add_argument("--backend", default="interp", metavar="NAME")
    conf.add_argument("--include", metavar="REGEX", help="only tests whose file name matches")
    conf.add_argument("--exclude", metavar="REGEX", help="skip tests whose file name matches")
    conf.add_argument("-v", "--verbose", action="store_true", help="list passing tests too")
    conf.set_defaults(func=_cmd_conformance)

    tri = sub.add_parser(
        "triage",
        help="every packet of a capture on several backends in lockstep: where and why they disagree",
        description="Load the program on every backend (an offload device may refuse it, with its "
        "reasons), run every packet of the capture on all of them in lockstep (maps carry over from "
        "packet to packet), and report the agreement rate and each class of divergence with the "
        "known host/offload behaviour difference that explains it. Exit status: 0 every packet "
        "agrees, 1 a divergence or a refusal, 2 a usage error.",
    )
    tri.add_argument("prog", metavar="PROG.o", help="compiled BPF object")
    tri.add_argument("--pcap", required=True, metavar="FILE", help="capture whose packets are the input")
    tri.add_argument(
        "--prog", dest="prog_name", metavar="NAME", help="program of the object (function or section)"
    )
    tri.add_argument("--maps", metavar="JSON", help="map entries to install first ({map: [{key, value}]})")
    tri.add_argument(
        "--backends", default="interp,nic", metavar="A,B", help="backends to compare (default interp,nic)"
    )
    tri.add_argument("--profile", metavar="NAME", help="offload device profile (default: the nic's default)")
    tri.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="report format")
    tri.add_argument("--jobs", type=int, default=1, metavar="N", help="worker processes (same results)")
    tri.add_argument(
        "--budget",
        type=int,
        default=DEFAULT_BUDGET,
        metavar="N",
        help=f"instructions per packet before it stops (default {DEFAULT_BUDGET})",
    )
    tri.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    tri.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    tri.set_defaults(func=_cmd_triage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except CliError as err:
        print(f"bpfdbg: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("bpfdbg: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
