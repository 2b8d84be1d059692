"""A triage report (bpfdbg.triage.TriageReport) as plain text, Markdown or JSON, and the
progress line shown while one runs.

Text and Markdown are for people: the header, the load verdicts, the agreement rate, then
one entry per divergence class (where, what differs, each side's native code, and the known
behaviour difference that explains it, or that nothing does), then the packets that
disagree. JSON is for scripts and lists every packet. Pure functions: strings in, strings
out; the CLI decides where they go.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from bpfdbg.lockstep import region_window
from bpfdbg.offload_explain import explain_refusal
from bpfdbg.triage import BackendEnd, DivergenceClass, LoadVerdict, PacketResult, TriageReport

FORMATS = ("text", "json", "markdown")
SHOWN_PACKET_NUMBERS = 8  # packet numbers listed per class before "and N more"
SHOWN_PACKETS = 100  # rows of the disagreeing-packets table in text and Markdown


# -- shared pieces -------------------------------------------------------------------------------
def title(report: TriageReport) -> str:
    """``xdp_lb.o:xdp_lb, capture xdp_lb.pcap (20 packets), backends interp vs nic (profile x)``"""
    prog = f"{Path(report.program_path).name}:{report.program}" if report.program_path else report.program
    count = report.packet_count
    capture = f"capture {Path(report.capture_path).name} ({count:,} packet{'s' if count != 1 else ''})"
    profile = f" (profile {report.profile})" if report.profile else ""
    return f"{prog}, {capture}, backends {' vs '.join(report.backends)}{profile}"


def load_summary(report: TriageReport) -> str:
    """``interp accepted; nic accepted (1,812 of 3,072 instruction-store slots)``"""
    parts = []
    for v in report.loads:
        notes = f" ({'; '.join(v.notes)})" if v.notes else ""
        parts.append(f"{v.backend} {'accepted' if v.ok else 'refused'}{notes}")
    return "; ".join(parts)


def agreement(report: TriageReport) -> str:
    total = len(report.packets)
    return f"{report.agreed:,} of {total:,} packets ({report.rate:.1f}%)"


def packet_numbers(indexes: tuple[int, ...]) -> str:
    """``1, 3, 5`` or ``1, 3, 5, ... and 552 more`` (1-based, as the debugger numbers packets)."""
    shown = ", ".join(str(i + 1) for i in indexes[:SHOWN_PACKET_NUMBERS])
    more = len(indexes) - SHOWN_PACKET_NUMBERS
    return f"{shown} and {more:,} more" if more > 0 else shown


def position(c: DivergenceClass, report: TriageReport) -> str:
    """``48 (xdp_lb.c:96)``; a tail-called program's name when it is not the one loaded."""
    src = f" ({Path(c.source.file).name}:{c.source.line})" if c.source is not None else ""
    prog = f" in {c.program}" if c.program and c.program != report.program else ""
    return f"{c.pc}{prog}{src}"


def where(c: DivergenceClass, report: TriageReport) -> str:
    """``insn 48 (xdp_lb.c:96)``"""
    return f"insn {position(c, report)}"


def what_differs(c: DivergenceClass, report: TriageReport) -> str:
    """``verdict XDP_REDIRECT vs XDP_ABORTED`` when the run's end differs (from the class's
    most common verdicts), else the differing things: ``r0, memory pkt+12``."""
    fields = list(c.fields)
    out = []
    if "end" in fields and c.verdicts:
        out.append("verdict " + " vs ".join(c.verdicts[0][0]))
        fields.remove("end")
    out.extend(fields)
    return ", ".join(out)


def explanation_line(c: DivergenceClass, report: TriageReport) -> str:
    """One line: the known behaviour (and whether it is benign) or why there is none."""
    e = c.explanation
    if e is None:
        return "unexplained: " + _unexplained(report)
    kind = "benign" if e.behaviour.benign else "the packet's fate differs on the device"
    return f"known ({kind}): [{e.behaviour.number} {e.behaviour.id}] {e.behaviour.title}"


def _unexplained(report: TriageReport) -> str:
    device = [b for b in report.backends if b in report.device_backends]
    if device:
        return "no known behaviour difference fits; this is a bug in the offload or in bpfdbg's model"
    return "the host backends must agree here; this is a bug in one of them"


def _values(c: DivergenceClass) -> list[str]:
    """Each difference with every backend's value; whole maps shrink to the entries that
    differ."""
    out = []
    for d in c.divergence.differences:
        if d.what.startswith("region "):
            out.append(f"{d.what}: {region_window(d.values)}")
            continue
        entries = _map_entries_that_differ(d.values) if d.what.startswith("map ") else None
        if entries is None:
            out.append(f"{d.what}: " + ", ".join(f"{name} {value}" for name, value in d.values))
            continue
        plural = "entries differ" if len(entries) != 1 else "entry differs"
        out.append(f"{d.what}: {len(entries)} {plural}")
        out.extend(f"  {line}" for line in entries[:SHOWN_MAP_ENTRIES])
        if len(entries) > SHOWN_MAP_ENTRIES:
            out.append(f"  ... and {len(entries) - SHOWN_MAP_ENTRIES} more")
    return out


SHOWN_MAP_ENTRIES = 4


def _map_entries_that_differ(values: tuple[tuple[str, str], ...]) -> list[str] | None:
    """``key 00000000: interp 0600..., nic 0400...`` for each entry whose value differs
    between the backends' map dumps (lockstep gives each dump as its repr); None when a
    dump cannot be read back."""
    import ast

    tables: dict[str, dict[str, str]] = {}
    for name, text in values:
        try:
            rows = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return None
        if rows is None:
            rows = []
        if not isinstance(rows, list):
            return None
        table: dict[str, str] = {}
        for i, row in enumerate(rows):
            if not isinstance(row, dict):
                return None
            key = f"key {row['key']}" if "key" in row else f"record {i}"
            table[key] = _entry_value(row)
        tables[name] = table
    keys = list(dict.fromkeys(k for t in tables.values() for k in t))
    out = []
    for key in keys:
        seen = {name: t.get(key, "(none)") for name, t in tables.items()}
        if len(set(seen.values())) > 1:
            out.append(f"{key}: " + ", ".join(f"{name} {v}" for name, v in seen.items()))
    return out


def _entry_value(row: dict[str, Any]) -> str:
    if "values" in row and isinstance(row["values"], list):
        return " ".join(f"cpu{v.get('cpu')}={v.get('value')}" for v in row["values"] if isinstance(v, dict))
    for field in ("value", "record"):
        if field in row:
            return str(row[field])
    return repr({k: v for k, v in row.items() if k != "key"})


def _native(c: DivergenceClass) -> list[tuple[str, list[str]]]:
    out = []
    for name, code in c.divergence.native:
        if code:
            out.append((name, [f"{n.address:#x}: {n.raw.hex(' '):<24} {n.text}".rstrip() for n in code]))
    return out


def _end_cell(end: BackendEnd | None) -> str:
    return end.text if end is not None else "-"


def _first_divergence(p: PacketResult) -> str:
    div = p.divergence
    if div is None:
        return ""
    return f"insn {div.pc}: {', '.join(d.what for d in div.differences)}"


def _warnings(v: LoadVerdict) -> list[str]:
    return [str(d) for d in v.diagnostics if d.severity.value != "error"]


def _refusal_lines(v: LoadVerdict, indent: str) -> list[str]:
    lines = []
    for d in v.diagnostics:
        lines.append(f"{indent}{d}")
        hint = getattr(d, "hint", None)
        if hint:
            lines.append(f"{indent}  fix: {hint}")
        known = explain_refusal(d.message) if d.severity.value == "error" else None
        if known is not None:
            lines.append(f"{indent}  known limit [{known.number} {known.id}]: {known.title}")
    if not v.diagnostics:
        lines.append(f"{indent}(the backend gave no reason)")
    return lines


# -- text ----------------------------------------------------------------------------------------
def render_text(report: TriageReport) -> str:
    lines = [f"triage: {title(report)}", f"load: {load_summary(report)}"]
    for v in report.loads:
        if not v.ok:
            lines.append(f"  {v.backend} refused the program:")
            lines.extend(_refusal_lines(v, "    "))
        else:
            lines.extend(f"  {v.backend} warns: {w}" for w in _warnings(v))
    if report.refused:
        names = " and ".join(v.backend for v in report.refused)
        lines.append(f"triage stops here: {names} refused the program, so there is nothing to compare")
        return "\n".join(lines) + "\n"
    lines.append(f"agreement: {agreement(report)}")
    for c in report.classes:
        lines.append("")
        lines.extend(_class_text(c, report))
    disagreeing = [p for p in report.packets if not p.agreed]
    if disagreeing:
        lines.append("")
        lines.append("packets that disagree:")
        lines.extend(_packet_table_text(disagreeing, report))
    return "\n".join(lines) + "\n"


def _class_text(c: DivergenceClass, report: TriageReport) -> list[str]:
    plural = "s" if c.count != 1 else ""
    lines = [
        f"class {c.number}: {c.count:,} packet{plural} ({packet_numbers(c.packets)}), {_headline(c, report)}"
    ]
    if c.source is not None and c.source.text:
        lines.append(f"  {c.source.line}\t{c.source.text.strip()}")
    if c.maps_differed:
        lines.append(f"  ({c.maps_differed:,} of these packets started with maps that already differed)")
    lines.append(f"  what differs (packet {c.packets[0] + 1}):")
    lines.extend(f"    {v}" for v in _values(c))
    for ends, count in c.verdicts[:3]:
        pairs = ", ".join(f"{b} {e}" for b, e in zip(report.backends, ends, strict=False))
        lines.append(f"  verdicts: {pairs} ({count:,} packet{'s' if count != 1 else ''})")
    for name, code in _native(c):
        lines.append(f"  {name} code for insn {c.pc}:")
        lines.extend(f"    {line}" for line in code)
    lines.append(f"  {explanation_line(c, report)}")
    if c.explanation is not None:
        lines.append(f"    {c.explanation.detail}")
        lines.extend(textwrap.wrap(c.explanation.behaviour.text, 96, initial_indent="    ",
                                   subsequent_indent="    "))  # fmt: skip
    return lines


def _headline(c: DivergenceClass, report: TriageReport) -> str:
    return f"first divergent instruction {where(c, report)}: {c.insn_text}"


def _packet_table_text(packets: list[PacketResult], report: TriageReport) -> list[str]:
    widths = [max(len(b), 12) for b in report.backends]
    head = "  packet  bytes  " + "  ".join(f"{b:<{w}}" for b, w in zip(report.backends, widths, strict=True))
    lines = [head + "  class  first divergence"]
    classes = {i: c.number for c in report.classes for i in c.packets}
    for p in packets[:SHOWN_PACKETS]:
        ends = "  ".join(
            f"{_end_cell(p.end_of(b)):<{w}}" for b, w in zip(report.backends, widths, strict=True)
        )
        lines.append(
            f"  {p.number:>6}  {p.length:>5}  {ends}  {classes.get(p.index, '-'):>5}  {_first_divergence(p)}"
        )
    if len(packets) > SHOWN_PACKETS:
        lines.append(f"  ... and {len(packets) - SHOWN_PACKETS:,} more (--format json lists every packet)")
    return lines


# -- Markdown ------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: TriageReport) -> str:
    lines = [f"# Offload triage: {title(report)}", "", f"Load: {load_summary(report)}."]
    for v in report.loads:
        if not v.ok:
            lines.append("")
            lines.append(f"{v.backend} refused the program:")
            lines.append("")
            lines.extend(f"- {line.strip()}" for line in _refusal_lines(v, ""))
        elif _warnings(v):
            lines += ["", f"{v.backend} warns:", ""]
            lines.extend(f"- {_cell(w)}" for w in _warnings(v))
    if report.refused:
        names = " and ".join(v.backend for v in report.refused)
        lines.append("")
        lines.append(f"Triage stops here: {names} refused the program, so there is nothing to compare.")
        return "\n".join(lines) + "\n"
    lines.append(f"Agreement: {agreement(report)}.")
    if report.classes:
        lines += ["", "| class | packets | first divergent insn | what differs | explanation |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for c in report.classes:
            short = _short_explanation(c, report)
            cells = [
                str(c.number),
                f"{c.count:,}",
                f"{position(c, report)} `{c.insn_text}`",
                what_differs(c, report),
                short,
            ]
            lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
        for c in report.classes:
            head = f"{where(c, report)} `{c.insn_text}`"
            lines += ["", f"## Class {c.number}: {head}", ""]
            lines.append(f"{c.count:,} packet{'s' if c.count != 1 else ''}: {packet_numbers(c.packets)}.")
            if c.source is not None and c.source.text:
                lines += ["", "```c", f"{c.source.line}\t{c.source.text.strip()}", "```"]
            lines += ["", f"What differs (packet {c.packets[0] + 1}):", ""]
            lines.extend(f"- {_cell(v.strip())}" if not v.startswith("  ") else f"  - {_cell(v.strip())}"
                         for v in _values(c))  # fmt: skip
            for ends, count in c.verdicts[:3]:
                pairs = ", ".join(f"{b} {e}" for b, e in zip(report.backends, ends, strict=False))
                lines.append(f"- verdicts: {pairs} ({count:,} packet{'s' if count != 1 else ''})")
            for name, code in _native(c):
                lines += ["", f"{name} code for insn {c.pc}:", "", "```", *code, "```"]
            lines += ["", explanation_line(c, report).replace("known (", "**Known** (", 1)]
            if c.explanation is not None:
                lines += ["", c.explanation.detail + ".", "", c.explanation.behaviour.text]
    disagreeing = [p for p in report.packets if not p.agreed]
    if disagreeing:
        classes = {i: c.number for c in report.classes for i in c.packets}
        lines += ["", "## Packets that disagree", ""]
        lines.append("| packet | bytes | " + " | ".join(report.backends) + " | class | first divergence |")
        lines.append("|---" * (len(report.backends) + 4) + "|")
        for p in disagreeing[:SHOWN_PACKETS]:
            cells = [str(p.number), str(p.length), *(_end_cell(p.end_of(b)) for b in report.backends),
                     str(classes.get(p.index, "-")), _first_divergence(p)]  # fmt: skip
            lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
        if len(disagreeing) > SHOWN_PACKETS:
            lines += [
                "",
                f"... and {len(disagreeing) - SHOWN_PACKETS:,} more (the JSON report lists every packet).",
            ]
    return "\n".join(lines) + "\n"


def _short_explanation(c: DivergenceClass, report: TriageReport) -> str:
    e = c.explanation
    if e is None:
        return "**unexplained**: " + _unexplained(report)
    note = "benign" if e.behaviour.benign else "known device behaviour"
    return f"{e.behaviour.title} ({note}, fact {e.behaviour.number})"


# -- JSON ----------------------------------------------------------------------------------------
def report_json(report: TriageReport) -> dict[str, Any]:
    """Everything, every packet included (1-based packet numbers)."""
    classes = {i: c.number for c in report.classes for i in c.packets}
    packets = []
    for p in report.packets:
        row: dict[str, Any] = {
            "packet": p.number,
            "length": p.length,
            "agreed": p.agreed,
            "insns": p.insns,
            "maps_differed": p.maps_differed,
            "ends": {e.backend: e.to_json() for e in p.ends},
            "class": classes.get(p.index),
            "divergence": p.divergence.to_json() if p.divergence is not None else None,
        }
        packets.append(row)
    return {
        "program": {"file": report.program_path, "name": report.program, "type": report.prog_type},
        "capture": {"file": report.capture_path, "packets": report.packet_count},
        "backends": list(report.backends),
        "device_backends": sorted(report.device_backends),
        "profile": report.profile,
        "loads": [v.to_json() for v in report.loads],
        "refused": [v.backend for v in report.refused],
        "agreement": {
            "agreed": report.agreed,
            "packets": len(report.packets),
            "rate": round(report.rate, 3),
        },  # fmt: skip
        "classes": [_class_json(c, report) for c in report.classes],
        "packets": packets,
        "exit_status": report.exit_status,
    }


def _class_json(c: DivergenceClass, report: TriageReport) -> dict[str, Any]:
    div = c.divergence.to_json()
    source = None
    if c.source is not None:
        source = {"file": c.source.file, "line": c.source.line, "text": c.source.text}
    return {
        "class": c.number,
        "count": c.count,
        "packets": [i + 1 for i in c.packets],
        "program": c.program,
        "pc": c.pc,
        "insn": c.insn_text,
        "source": source,
        "what": list(c.fields),
        "what_differs": what_differs(c, report),
        "values": {d["what"]: d["values"] for d in div["differences"]},
        "native": div["native"],
        "verdicts": [
            {"ends": dict(zip(report.backends, ends, strict=False)), "packets": n} for ends, n in c.verdicts
        ],
        "maps_differed": c.maps_differed,
        "explanation": c.explanation.to_json() if c.explanation is not None else None,
        "unexplained": None if c.explanation is not None else _unexplained(report),
    }


def render(report: TriageReport, fmt: str) -> str:
    import json

    if fmt == "json":
        return json.dumps(report_json(report), indent=2) + "\n"
    if fmt == "markdown":
        return render_markdown(report)
    return render_text(report)


# -- progress ------------------------------------------------------------------------------------
def progress_line(done: int, total: int, elapsed: float, width: int = 24) -> str:
    """``triage [#########-------]  1,234/10,000 packets  812 pkt/s  ETA 0:11``"""
    filled = width * done // total if total else width
    bar = "#" * filled + "-" * (width - filled)
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = "--:--" if rate <= 0 else _clock((total - done) / rate)
    return f"triage [{bar}] {done:,}/{total:,} packets  {rate:,.0f} pkt/s  ETA {eta}"


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02}:{s:02}" if h else f"{m}:{s:02}"
