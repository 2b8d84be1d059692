"""``map``: bpftool's map verbs on the machine's live maps, plus what bpftool cannot do
(snapshot, restore, reset, diff, export, import), and ``info maps``.

bpftool users should not have to relearn anything: the same keywords (matched by bpftool's
first-in-table-order prefix rule, so ``map d`` is ``dump``), the same ``DATA := [hex]
BYTES`` input, the same plain layout (``key: 06 00 00 50  value: ...``, ``Found N
elements``, ``value (CPU 00): ...``) and, with ``-j``, the same JSON (hex-string byte
arrays, ``values: [{cpu, value}]``, ``formatted`` when the object has BTF). Every change
goes through the maps' user-space (bpf(2)) entry points, so flags and errno values are the
kernel's; and every change is reported to the session (``session.edited("maps")``), which
keeps reverse execution exact across the edit.

Snapshots store ``{map: [(key, value)]}`` with values in the syscall's layout (per-CPU maps:
one 8-byte-aligned slot per CPU), which is what ``update`` takes back; see
:func:`capture_maps`.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfdbg.capture import CaptureError, read_map_entries
from bpfdbg.commands.common import split_args
from bpfdbg.commands.output import (
    event_pipe,
    finish,
    first_match,
    fprint_hex,
    hexlist,
    json_text,
    plural,
    take_json_flags,
)
from bpfdbg.commands.registry import CommandError, CommandResult, command, sub_of
from bpfdbg.mapstate import Entries, Snapshot, capture_maps, map_entries
from emulator.errors import EmulatorError
from emulator.maps import BPF_ANY, BPF_EXIST, BPF_NOEXIST, Map, MapError, MapOpError, MapSet, MapType
from emulator.maps.base import round8
from emulator.maps.fdmaps import ArrayOfMapsMap, HashOfMapsMap, ProgArrayMap
from emulator.maps.perf import PerfEventArrayMap
from emulator.maps.queue import QueueMap, StackMap
from emulator.maps.ringbuf import RingBufMap

if TYPE_CHECKING:
    from bpfdbg.session import Session


# bpftool's map keywords in its own table order (the first one a prefix matches wins)...
BPFTOOL_VERBS = (
    "show", "list", "dump", "update", "lookup", "getnext", "delete", "event_pipe",
    "peek", "push", "enqueue", "pop", "dequeue",
)  # fmt: skip
# ... and ours, which need a unique prefix.
EXTRA_VERBS = ("snapshot", "restore", "reset", "diff", "export", "import")
UPDATE_FLAGS = {"any": BPF_ANY, "noexist": BPF_NOEXIST, "exist": BPF_EXIST}
DEFAULT_SNAPSHOT = "default"


# -- finding a map ----------------------------------------------------------------------------
def resolve_map(session: Session, words: Sequence[str], usage: str) -> tuple[Map, list[str]]:
    """bpftool's ``MAP := id N | name NAME`` (and a bare NAME); returns the map and the
    words after the handle."""
    if not words:
        raise CommandError("a map is needed: give its name (or id N)", usage)
    maps = session.maps
    head = words[0]
    if head == "id":
        if len(words) < 2:
            raise CommandError("'id' needs a map id", usage)
        try:
            found = maps.by_id(int(words[1], 0))
        except ValueError:
            raise CommandError(f"map id must be a number, not {words[1]!r}", usage) from None
        if found is None:
            ids = ", ".join(f"{m.map_id} ({m.name})" for m in maps)
            raise CommandError(f"no map with id {words[1]}; ids: {ids or 'none'}", usage)
        return found, list(words[2:])
    if head == "pinned":
        raise CommandError("the emulator has no bpffs: name the map (map list shows them)", usage)
    if head == "name":
        if len(words) < 2:
            raise CommandError("'name' needs a map name", usage)
        head, rest = words[1], list(words[2:])
    else:
        rest = list(words[1:])
    try:
        return maps[head], rest
    except KeyError as err:
        raise CommandError(str(err.args[0])) from None


# -- parsing key and value bytes --------------------------------------------------------------
def c_number(text: str) -> int:
    """strtoul with base 0, as bpftool parses each byte: ``0x1f`` hex, ``017`` octal,
    ``17`` decimal; a leading ``-`` negates. ValueError when it is not a number."""
    body = text[1:] if text.startswith("-") else text
    if body.lower().startswith("0x"):
        value = int(body[2:], 16)
    elif len(body) > 1 and body.startswith("0"):
        value = int(body[1:], 8)
    else:
        if not body.isdigit():
            raise ValueError(text)
        value = int(body, 10)
    return -value if text.startswith("-") else value


def parse_bytes(words: Sequence[str], what: str, size: int) -> bytes:
    """bpftool's ``DATA := [hex] BYTES`` plus one shorthand.

    - ``6 0 0 80`` or ``0x06 0 0 0x50``: one byte per word, decimal unless ``0x`` (hex) or a
      leading ``0`` (octal), exactly as bpftool reads them;
    - ``hex 06 00 00 50``: every word hex; a word may also hold several bytes
      (``hex 06000050``, the form ``bpfdbg run --json`` prints);
    - a single number when the key or value is wider than one byte (``key 17``,
      ``value 0x1000``): an integer, stored little-endian (host order) in all ``size``
      bytes; negative numbers are two's complement. Use ``hex`` for bytes in written order.
    """
    if not words:
        raise CommandError(
            f"{what} expected: {size} bytes, like '{what} 6 0 0 80' or '{what} hex 06 00 00 50'"
        )
    if words[0] == "hex":
        out = bytearray()
        for word in words[1:]:
            digits = word[2:] if word.lower().startswith("0x") else word
            if len(digits) > 2 and len(digits) % 2:
                raise CommandError(f"error parsing {what} byte {word!r}: an odd number of hex digits")
            try:
                out += bytes.fromhex(digits.zfill(2))
            except ValueError:
                raise CommandError(f"error parsing {what} byte {word!r}: not hex") from None
        if len(words) == 1:
            raise CommandError(f"'hex' must be followed by the {what} bytes")
        return bytes(out)
    if len(words) == 1 and size > 1:
        try:
            number = c_number(words[0])
        except ValueError:
            raise CommandError(f"error parsing {what} {words[0]!r}: not a number") from None
        if not -(1 << (8 * size - 1)) <= number < (1 << (8 * size)):
            raise CommandError(f"{what} {words[0]} does not fit in {size} bytes")
        return (number % (1 << (8 * size))).to_bytes(size, "little")
    out = bytearray()
    for word in words:
        try:
            number = c_number(word)
        except ValueError:
            raise CommandError(f"error parsing {what} byte {word!r}: not a number") from None
        if not 0 <= number <= 0xFF:
            raise CommandError(
                f"{what} byte {word} is out of range (0-255); give bytes one per word, "
                f"or one number alone for the whole {what}"
            )
        out.append(number)
    return bytes(out)


def value_sizes(m: Map) -> tuple[int, ...]:
    """The value lengths user space may write: value_size, and for per-CPU maps also one
    8-byte-aligned slot per CPU (the syscall's layout)."""
    if m.percpu:
        return (m.value_size, round8(m.value_size) * m.ncpus)
    return (m.value_size,)


def parse_key(m: Map, words: Sequence[str]) -> bytes:
    key = parse_bytes(words, "key", m.key_size)
    if len(key) != m.key_size:
        raise CommandError(f"key size mismatch: map {m.name} wants {m.key_size} bytes, got {len(key)}")
    return key


def parse_value(m: Map, words: Sequence[str]) -> bytes:
    value = parse_bytes(words, "value", m.value_size)
    if len(value) not in value_sizes(m):
        also = f" (or {m.ncpus} x {round8(m.value_size)}, one slot per CPU)" if m.percpu else ""
        raise CommandError(
            f"value size mismatch: map {m.name} wants {m.value_size} bytes{also}, got {len(value)}"
        )
    return value


def split_sections(words: Sequence[str], usage: str) -> dict[str, list[str]]:
    """``key A B value C D exist`` -> {"key": [A, B], "value": [C, D], "flag": ["exist"]}."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for word in words:
        if word in ("key", "value"):
            if word in sections:
                raise CommandError(f"'{word}' given twice", usage)
            current = sections[word] = []
        elif word in UPDATE_FLAGS and "value" in sections:
            sections.setdefault("flag", []).append(word)
            current = None
        elif current is None:
            raise CommandError(f"expected 'key' or 'value', got {word!r}", usage)
        else:
            current.append(word)
    if len(sections.get("flag", [])) > 1:
        raise CommandError("give at most one of any, exist, noexist", usage)
    return sections


def require_keyed(m: Map, verb: str) -> None:
    if m.keyless:
        hint = "use peek, push or pop" if isinstance(m, QueueMap) else "use event_pipe"
        raise CommandError(
            f"map {m.name} is {_article(m.type.label)} {m.type.label}: it has no keys to {verb}; {hint}"
        )
    if isinstance(m, PerfEventArrayMap) and verb in ("lookup", "dump"):
        raise CommandError(f"map {m.name} is a perf_event_array: its records are in event_pipe {m.name}")


def failed(verb: str, err: int, m: Map, why: str = "") -> CommandError:
    """bpftool's ``<verb> failed: <strerror>`` plus, where we know it, what it means here."""
    code = -err if err < 0 else err
    text = os.strerror(code) if code != 524 else "Unknown error 524 (ENOTSUPP)"
    hints = {
        errno.EEXIST: "the key is already there (noexist)",
        errno.ENOENT: "no such key" if verb != "update" else "the key is not there (exist)",
        errno.E2BIG: "index past max_entries" if m.type.name.endswith("ARRAY") else "the map is full",
        errno.EPERM: "the map is frozen: read-only to user space after loading",
    }
    hint = why or hints.get(code, "")
    return CommandError(f"{verb} failed: {text}" + (f" ({hint})" if hint else ""))


# -- rendering entries ------------------------------------------------------------------------
def btf_of(session: Session) -> Any | None:
    btf = session.btf
    return btf if btf is not None and hasattr(btf, "types") else None


def formatted(session: Session, m: Map, key: bytes, value: bytes | list[bytes]) -> dict[str, Any] | None:
    """bpftool's ``formatted`` object: key and value decoded by their BTF types (None when
    the map has no BTF types or the bytes do not fit them)."""
    btf = btf_of(session)
    spec = m.spec
    if btf is None or not (spec.key_btf or spec.value_btf):
        return None
    from emulator.elf.btf_format import format_value

    def one(type_id: int, data: bytes) -> Any:
        return json.loads(format_value(btf, type_id, data))

    try:
        out: dict[str, Any] = {}
        if m.key_size and spec.key_btf:
            out["key"] = one(spec.key_btf, key)
        if spec.value_btf:
            if isinstance(value, list):
                out["values"] = [{"cpu": c, "value": one(spec.value_btf, v)} for c, v in enumerate(value)]
            else:
                out["value"] = one(spec.value_btf, value)
        return out
    except (ValueError, KeyError, IndexError, EmulatorError):  # a type without size, bad BTF: bytes only
        return None


def entry_json(session: Session, m: Map, key: bytes, value: bytes | list[bytes]) -> dict[str, Any]:
    """One entry in ``bpftool -j map dump`` shape (plus ``program``/``inner_map`` names
    for maps that hold references, which bpftool can only show as ids)."""
    row: dict[str, Any] = {"key": hexlist(key)}
    if isinstance(value, list):
        row["values"] = [{"cpu": c, "value": hexlist(v)} for c, v in enumerate(value)]
    else:
        row["value"] = hexlist(value)
    ref = reference_of(m, key)
    if ref is not None:
        row.update(ref)
        ids = [p.name for p in session.programs]
        if ref.get("program") in ids:  # the slot's value as user space sees it: the program's id
            row["value"] = hexlist(ids.index(ref["program"]).to_bytes(4, "little"))
    fmt = formatted(session, m, key, value)
    if fmt is not None:
        row["formatted"] = fmt
    return row


def reference_of(m: Map, key: bytes) -> dict[str, Any] | None:
    """What a prog_array slot or a map-in-map entry refers to, by name."""
    if isinstance(m, ProgArrayMap):
        prog = m.program(int.from_bytes(key, "little"))
        return {"program": prog} if prog is not None else None
    if isinstance(m, ArrayOfMapsMap):
        refs = dict(m.refs())
        inner = refs.get(int.from_bytes(key, "little"))
    elif isinstance(m, HashOfMapsMap):
        inner = dict(m.refs()).get(key)
    else:
        return None
    if isinstance(inner, Map):
        return {"inner_map_id": inner.map_id, "inner_map": inner.name}
    return None


def entry_lines(m: Map, row: dict[str, Any]) -> list[str]:
    """bpftool's print_entry_plain for one ``entry_json`` row, then the formatted form."""
    key = bytes(int(b, 16) for b in row["key"])
    lines: list[str] = []
    if "values" in row:  # per-CPU: key on its own line, one value line per CPU
        lines += ["key:", *fprint_hex(key)] if m.key_size else []
        for item in row["values"]:
            value = bytes(int(b, 16) for b in item["value"])
            hexed = fprint_hex(value)
            if m.value_size > 16:
                lines += [f"value (CPU {item['cpu']:02d}):", *hexed]
            else:
                lines.append(f"value (CPU {item['cpu']:02d}): {hexed[0]}")
    else:
        value = bytes(int(b, 16) for b in row["value"])
        label = "value"
        note = ""
        if "program" in row:
            note = f"  (program {row['program']})"
        elif "inner_map" in row:
            label, note = "inner_map_id", f"  (map {row['inner_map']})"
        break_names = m.key_size > 16 or m.value_size > 16
        single_line = m.key_size + m.value_size <= 24 and not break_names
        if label == "inner_map_id":
            value_text = [str(row["inner_map_id"])]
        else:
            value_text = fprint_hex(value)
        if not m.key_size:
            lines += _labelled(label, value_text, break_names)
        elif single_line:
            lines.append(f"key: {fprint_hex(key)[0]}  {label}: {value_text[0]}")
        else:
            lines += _labelled("key", fprint_hex(key), break_names)
            lines += _labelled(label, value_text, break_names)
        lines[-1] += note
    if "formatted" in row:
        lines.append("formatted: " + json.dumps(row["formatted"]))
    return lines


def _labelled(label: str, hexed: list[str], break_names: bool) -> list[str]:
    if break_names or len(hexed) > 1:
        return [f"{label}:", *hexed]
    return [f"{label}: {hexed[0]}"]


def map_rows(session: Session, m: Map) -> list[dict[str, Any]]:
    """Every entry of ``m`` as ``entry_json`` rows, in the map's iteration order (queue and
    stack: in the order pops would return them)."""
    return [entry_json(session, m, key, value) for key, value in m.items()]


# -- map list / show --------------------------------------------------------------------------
def element_count(m: Map) -> int:
    if isinstance(m, RingBufMap):
        return len(m.records())
    if isinstance(m, PerfEventArrayMap):
        return len(m.records())
    return len(m.items())


def describe_map(session: Session, m: Map) -> tuple[list[str], dict[str, Any]]:
    """bpftool's ``map show`` lines and JSON for one map (memlock and btf_id, which only a
    kernel has, are replaced by the element count and the BTF type names)."""
    spec = m.spec
    count = element_count(m)
    unit = "records" if isinstance(m, RingBufMap | PerfEventArrayMap) else "elements"
    data: dict[str, Any] = {
        "id": m.map_id,
        "type": m.type.label,
        "name": m.name,
        "flags": spec.flags,
        "bytes_key": m.key_size,
        "bytes_value": m.value_size,
        "max_entries": m.max_entries,
        "frozen": int(m.frozen),
        unit: count,
    }
    lines = [
        f"{m.map_id}: {m.type.label}  name {m.name}  flags 0x{spec.flags:x}",
        f"\tkey {m.key_size}B  value {m.value_size}B  max_entries {m.max_entries}  {unit} {count}",
    ]
    extra: list[str] = []
    btf = btf_of(session)
    if btf is not None and (spec.key_btf or spec.value_btf):
        key_type = btf.type_name(spec.key_btf) if spec.key_btf else "-"
        value_type = btf.type_name(spec.value_btf) if spec.value_btf else "-"
        data["btf_key_type"], data["btf_value_type"] = key_type, value_type
        extra.append(f"btf key {key_type}  value {value_type}")
    if m.frozen:
        extra.append("frozen")
    if spec.is_global_data:
        data["section"] = spec.section
        extra.append(f"section {spec.section}")
    if spec.inner is not None:
        data["inner_map_type"] = spec.inner.type.label
        extra.append(
            f"inner_map {spec.inner.type.label} key {spec.inner.key_size}B value {spec.inner.value_size}B"
        )
    if m.percpu:
        data["cpus"] = m.ncpus
        extra.append(f"cpus {m.ncpus}")
    if extra:
        lines.append("\t" + "  ".join(extra))
    return lines, data


def list_maps(session: Session, words: list[str], style: str | None, name: str) -> CommandResult:
    if words:
        m, rest = resolve_map(session, words, "map show [MAP]")
        if rest:
            raise CommandError(f"unexpected {' '.join(rest)!r} after the map", "map show [MAP]")
        lines, data = describe_map(session, m)
        return finish(name, data, lines, style)
    all_lines: list[str] = []
    rows: list[dict[str, Any]] = []
    for m in session.maps:
        lines, data = describe_map(session, m)
        all_lines += lines
        rows.append(data)
    if not rows:
        all_lines = ["the program has no maps"]
    if session.map_snapshots:
        all_lines.append(f"snapshots: {', '.join(sorted(session.map_snapshots))}")
    return finish(name, rows, all_lines, style)


# -- the element verbs ------------------------------------------------------------------------
def do_dump(session: Session, m: Map, rest: list[str], style: str | None) -> CommandResult:
    if rest:
        raise CommandError(f"unexpected {' '.join(rest)!r} after the map", "map dump MAP")
    if isinstance(m, RingBufMap | PerfEventArrayMap):
        return event_pipe(session, [m.name], style, "map")
    rows = map_rows(session, m)
    lines: list[str] = []
    for row in rows:
        lines += entry_lines(m, row)
    lines.append(f"Found {plural(len(rows), 'element')}")
    return finish("map", rows, lines, style)


def _user_value(m: Map, raw: bytes) -> bytes | list[bytes]:
    """A user-space lookup's bytes as a display value: per-CPU maps split by CPU."""
    if m.percpu:
        stride = round8(m.value_size)
        return [raw[c * stride : c * stride + m.value_size] for c in range(m.ncpus)]
    return raw


def do_lookup(session: Session, m: Map, rest: list[str], style: str | None) -> CommandResult:
    usage = "map lookup MAP key [hex] BYTES"
    require_keyed(m, "lookup")
    sections = split_sections(rest, usage)
    if "value" in sections or "flag" in sections or "key" not in sections:
        raise CommandError("lookup takes only 'key BYTES'", usage)
    key = parse_key(m, sections["key"])
    try:
        raw = m.user_lookup(key)
    except MapError as err:
        raise CommandError(str(err)) from None
    if isinstance(raw, int):
        if raw == -errno.ENOENT:
            raise CommandError(f"lookup failed: key {fprint_hex(key)[0]} not found in map {m.name}")
        raise failed("lookup", raw, m)
    row = entry_json(session, m, key, _user_value(m, raw))
    return finish("map", row, entry_lines(m, row), style)


def do_update(session: Session, m: Map, rest: list[str], style: str | None) -> CommandResult:
    usage = "map update MAP key [hex] BYTES value [hex] BYTES [any|exist|noexist]"
    require_keyed(m, "update")
    sections = split_sections(rest, usage)
    if "key" not in sections or "value" not in sections:
        raise CommandError("update needs 'key BYTES value BYTES'", usage)
    key = parse_key(m, sections["key"])
    flag = UPDATE_FLAGS[sections["flag"][0]] if "flag" in sections else BPF_ANY
    try:
        if isinstance(m, ProgArrayMap):
            index, name = resolve_program_ref(session, sections["value"])
            value = index.to_bytes(4, "little")
            err = m.update_ref(key, name, flag)
        else:
            if isinstance(m, ArrayOfMapsMap | HashOfMapsMap):
                value = resolve_inner(session, m, sections["value"])
            else:
                value = parse_value(m, sections["value"])
            err = m.update(key, value, flag)
    except MapError as exc:
        raise CommandError(str(exc)) from None
    if err:
        raise failed("update", err, m)
    session.edited("maps")
    data = {"map": m.name, "key": hexlist(key), "value": hexlist(value)}
    return finish("map", data, [f"{m.name}: updated key {fprint_hex(key)[0]}"], style)


def resolve_program_ref(session: Session, words: list[str]) -> tuple[int, str]:
    """A prog_array value: bpftool's PROG handle (``name NAME``, ``id N``, a bare name), or
    the program id (its number in ``prog list``) as 4 bytes. The slot stores the program's
    name, which is what a tail call looks up. Returns (id, name)."""
    programs = session.programs
    if len(words) == 2 and words[0] == "name":
        words = words[1:]
    if len(words) == 2 and words[0] == "id":
        try:
            index = c_number(words[1])
        except ValueError:
            raise CommandError(f"program id must be a number, not {words[1]!r}") from None
    elif len(words) == 1 and not _is_number(words[0]):
        for index, prog in enumerate(programs):
            if words[0] in (prog.name, prog.section):
                return index, prog.name
        names = ", ".join(p.name for p in programs)
        raise CommandError(f"no program {words[0]!r}; programs: {names}")
    else:
        data = parse_bytes(words, "value", 4)
        if len(data) != 4:
            raise CommandError(
                f"value size mismatch: a prog_array value is a 4-byte program id, got {len(data)}"
            )
        index = int.from_bytes(data, "little")
    if not 0 <= index < len(programs):
        raise CommandError(f"no program with id {index}; ids 0-{len(programs) - 1} (prog list)")
    return index, programs[index].name


def _is_number(word: str) -> bool:
    try:
        c_number(word)
    except ValueError:
        return False
    return True


def resolve_inner(session: Session, m: Map, words: list[str]) -> bytes:
    """A map-in-map value: bpftool's ``value MAP`` handle (``id N`` / ``name NAME``), or the
    inner map id as bytes."""
    if words and (words[0] in ("id", "name") or not words[0][:1].isdigit()):
        inner, extra = resolve_map(session, words, "map update MAP key BYTES value MAP")
        if extra:
            raise CommandError(f"unexpected {' '.join(extra)!r} after the inner map")
        return inner.map_id.to_bytes(4, "little")
    return parse_value(m, words)


def do_delete(session: Session, m: Map, rest: list[str], style: str | None) -> CommandResult:
    usage = "map delete MAP key [hex] BYTES"
    require_keyed(m, "delete")
    sections = split_sections(rest, usage)
    if "key" not in sections or len(sections) > 1:
        raise CommandError("delete takes only 'key BYTES'", usage)
    key = parse_key(m, sections["key"])
    try:
        err = m.delete(key)
    except MapError as exc:
        raise CommandError(str(exc)) from None
    if err:
        why = f"{m.type.label} elements cannot be deleted" if err == -errno.EINVAL else ""
        raise failed("delete", err, m, why)
    session.edited("maps")
    data = {"map": m.name, "key": hexlist(key)}
    return finish("map", data, [f"{m.name}: deleted key {fprint_hex(key)[0]}"], style)


def do_getnext(session: Session, m: Map, rest: list[str], style: str | None) -> CommandResult:
    usage = "map getnext MAP [key [hex] BYTES]"
    require_keyed(m, "iterate")
    sections = split_sections(rest, usage) if rest else {}
    if set(sections) - {"key"}:
        raise CommandError("getnext takes only an optional 'key BYTES'", usage)
    key = parse_key(m, sections["key"]) if "key" in sections else None
    try:
        nxt = m.get_next_key(key)
    except MapOpError as exc:
        raise CommandError(f"can't get next key: {exc}") from None
    except MapError as exc:
        raise CommandError(str(exc)) from None
    if nxt is None:
        raise CommandError(
            f"can't get next key: No such file or directory (no key after this one in {m.name})"
        )
    data = {"key": hexlist(key) if key is not None else None, "next_key": hexlist(nxt)}
    lines = ["key:", *fprint_hex(key)] if key is not None else ["key: None"]
    lines += ["next key:", *fprint_hex(nxt)]
    return finish("map", data, lines, style)


def require_queue(m: Map, verb: str) -> QueueMap:
    if not isinstance(m, QueueMap):
        raise CommandError(
            f"map {verb} needs a queue or stack map; {m.name} is {_article(m.type.label)} "
            f"{m.type.label} (use lookup/update/delete)"
        )
    return m


def do_peek_pop(session: Session, m: Map, rest: list[str], style: str | None, verb: str) -> CommandResult:
    q = require_queue(m, verb)
    if rest:
        raise CommandError(f"map {verb} takes only the map", f"map {verb} MAP")
    raw = q.user_lookup(None) if verb == "peek" else q.lookup_and_delete(None)
    if isinstance(raw, int):
        if raw == -errno.ENOENT:
            raise CommandError(f"{verb} failed: map {m.name} is empty")
        raise failed(verb, raw, m)
    if verb == "pop":
        session.edited("maps")
    row = entry_json(session, m, b"", raw)
    return finish("map", row, entry_lines(m, row), style)


def do_push(session: Session, m: Map, rest: list[str], style: str | None) -> CommandResult:
    usage = "map push MAP value [hex] BYTES [exist]"
    q = require_queue(m, "push")
    sections = split_sections(rest, usage)
    if "value" not in sections or "key" in sections:
        raise CommandError("push needs 'value BYTES' (queues and stacks have no keys)", usage)
    value = parse_value(m, sections["value"])
    flag = UPDATE_FLAGS[sections["flag"][0]] if "flag" in sections else BPF_ANY
    err = q.update(None, value, flag)
    if err:
        why = "the map is full; 'exist' overwrites the oldest value" if err == -errno.E2BIG else ""
        raise failed("push", err, m, why)
    session.edited("maps")
    data = {"map": m.name, "value": hexlist(value)}
    return finish("map", data, [f"{m.name}: pushed {fprint_hex(value)[0]}"], style)


# -- snapshots, diff, export/import -----------------------------------------------------------
NOT_RESTORABLE = (RingBufMap, PerfEventArrayMap, ProgArrayMap)


def restore_map(m: Map, entries: Entries) -> None:
    """Make ``m`` hold exactly ``entries`` through user-space operations."""
    if isinstance(m, QueueMap):
        while not isinstance(m.lookup_and_delete(None), int):
            pass
        order = reversed(entries) if isinstance(m, StackMap) else iter(entries)
        for _, value in order:
            m.update(None, value, BPF_ANY)
        return
    wanted = dict(entries)
    keyed = m.type not in (MapType.ARRAY, MapType.PERCPU_ARRAY)
    if keyed:
        for key, _ in m.items():
            if key not in wanted:
                m.delete(key)
    for key, value in entries:
        err = m.update(key, value, BPF_ANY)
        if err:
            raise CommandError(f"cannot restore map {m.name} key {key.hex()}: {os.strerror(-err)}")


def do_snapshot(session: Session, rest: list[str], style: str | None) -> CommandResult:
    if len(rest) > 1:
        raise CommandError("map snapshot takes one name", "map snapshot [NAME]")
    name = rest[0] if rest else DEFAULT_SNAPSHOT
    snap = capture_maps(session.maps)
    replaced = name in session.map_snapshots
    session.map_snapshots[name] = snap
    count = sum(len(v) for v in snap.values())
    verb = "replaced" if replaced else "saved"
    data = {"snapshot": name, "maps": len(snap), "entries": count}
    return finish(
        "map", data, [f"snapshot {name!r} {verb}: {plural(len(snap), 'map')}, {count} entries"], style
    )


def get_snapshot(session: Session, name: str) -> Snapshot:
    try:
        return session.map_snapshots[name]
    except KeyError:
        have = ", ".join(sorted(session.map_snapshots)) or "none yet (map snapshot [NAME])"
        raise CommandError(f"no map snapshot {name!r}; snapshots: {have}") from None


def do_restore(session: Session, rest: list[str], style: str | None) -> CommandResult:
    if len(rest) > 1:
        raise CommandError("map restore takes one name", "map restore [NAME]")
    name = rest[0] if rest else DEFAULT_SNAPSHOT
    snap = get_snapshot(session, name)
    restored: list[str] = []
    skipped: list[str] = []
    for m in session.maps:
        if m.name not in snap:
            continue
        if isinstance(m, NOT_RESTORABLE) or m.frozen:
            if map_entries(m) != snap[m.name]:
                skipped.append(m.name)
            continue
        restore_map(m, snap[m.name])
        restored.append(m.name)
    session.edited("maps")
    lines = [f"maps restored from snapshot {name!r}: {', '.join(restored) or 'none'}"]
    if skipped:
        lines.append(
            f"not restored (ring buffer/perf records, program references, frozen): {', '.join(skipped)}"
        )
    return finish("map", {"snapshot": name, "restored": restored, "skipped": skipped}, lines, style)


def do_reset(session: Session, rest: list[str], style: str | None) -> CommandResult:
    if rest:
        raise CommandError("map reset takes no arguments", "map reset")
    session.reset_maps()
    return finish(
        "map", {"reset": True}, ["maps reset to their state after loading; the run was ended"], style
    )


def _normal(m: Map | None, value: bytes) -> bytes:
    """Per-CPU values in one layout whatever recorded them (value_size or 8-aligned slots)."""
    if m is None or not m.percpu or not value or len(value) % m.ncpus:
        return value
    stride = len(value) // m.ncpus
    return b"".join(value[c * stride : c * stride + m.value_size].ljust(round8(m.value_size), b"\0")
                    for c in range(m.ncpus))  # fmt: skip


def diff_snapshots(maps: MapSet, old: Snapshot, new: Snapshot) -> dict[str, dict[str, list[dict[str, str]]]]:
    """Per map: entries changed (old and new value), added and removed, as hex strings."""
    by_name = {m.name: m for m in maps}
    out: dict[str, dict[str, list[dict[str, str]]]] = {}
    for name in [*new, *(n for n in old if n not in new)]:
        m = by_name.get(name)
        before = {k: _normal(m, v) for k, v in old.get(name, [])}
        after = {k: _normal(m, v) for k, v in new.get(name, [])}
        if isinstance(m, QueueMap):  # values without keys: compare the sequences
            before_list = [_normal(m, v) for _, v in old.get(name, [])]
            after_list = [_normal(m, v) for _, v in new.get(name, [])]
            if before_list != after_list:
                out[name] = {
                    "changed": [],
                    "added": [{"key": "", "value": v.hex()} for v in after_list],
                    "removed": [{"key": "", "value": v.hex()} for v in before_list],
                }
            continue
        changed = [
            {"key": k.hex(), "old": before[k].hex(), "new": v.hex()}
            for k, v in after.items()
            if k in before and before[k] != v
        ]
        added = [{"key": k.hex(), "value": v.hex()} for k, v in after.items() if k not in before]
        removed = [{"key": k.hex(), "value": v.hex()} for k, v in before.items() if k not in after]
        if changed or added or removed:
            out[name] = {"changed": changed, "added": added, "removed": removed}
    return out


def _side(m: Map | None, value_hex: str) -> bytes | list[bytes]:
    value = bytes.fromhex(value_hex)
    if m is not None and m.percpu and value and len(value) % m.ncpus == 0:
        stride = len(value) // m.ncpus
        return [value[c * stride : c * stride + m.value_size] for c in range(m.ncpus)]
    return value


def value_text(session: Session, m: Map | None, data: bytes) -> str:
    """One value for a diff line: its bytes, then its BTF form when there is one."""
    text = _flat(data)
    btf = btf_of(session)
    if m is not None and m.spec.value_btf and btf is not None:
        from emulator.elf.btf_format import format_value

        try:
            return f"{text} {format_value(btf, m.spec.value_btf, data)}"
        except (ValueError, KeyError, IndexError, EmulatorError):
            pass
    return text


def diff_lines(session: Session, maps: MapSet, diff: dict[str, dict[str, list[dict[str, str]]]]) -> list[str]:
    """``name: 1 changed, 2 added`` per map, then ``~``/``+``/``-`` lines per entry (per-CPU
    maps: one line per CPU whose value changed)."""
    by_name = {m.name: m for m in maps}
    lines: list[str] = []
    for name, parts in diff.items():
        m = by_name.get(name)
        counts = [f"{len(parts[k])} {k}" for k in ("changed", "added", "removed") if parts[k]]
        lines.append(f"{name}: {', '.join(counts)}")
        rows: list[tuple[str, dict[str, str], str | None, str | None]]
        rows = [("~", row, row["old"], row["new"]) for row in parts["changed"]]
        rows += [("+", row, None, row["value"]) for row in parts["added"]]
        rows += [("-", row, row["value"], None) for row in parts["removed"]]
        for sign, row, old_hex, new_hex in rows:
            key = bytes.fromhex(row["key"])
            head = f"  {sign} key: {fprint_hex(key)[0]}" if key else f"  {sign}"
            old = _side(m, old_hex) if old_hex is not None else None
            new = _side(m, new_hex) if new_hex is not None else None
            sample = new if new is not None else old
            if isinstance(sample, list):
                lines.append(head)
                for cpu in range(len(sample)):
                    a = old[cpu] if isinstance(old, list) else None
                    b = new[cpu] if isinstance(new, list) else None
                    if a != b or sign != "~":
                        lines.append(f"      value (CPU {cpu:02d}): {_change(session, m, a, b)}")
            else:
                a = old if isinstance(old, bytes) else None
                b = new if isinstance(new, bytes) else None
                lines.append(f"{head}  value: {_change(session, m, a, b)}")
    return lines


def _change(session: Session, m: Map | None, old: bytes | None, new: bytes | None) -> str:
    if old is not None and new is not None:
        return f"{value_text(session, m, old)} -> {value_text(session, m, new)}"
    return value_text(session, m, new if new is not None else old or b"")


def _flat(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def do_diff(session: Session, rest: list[str], style: str | None) -> CommandResult:
    usage = "map diff [SNAPSHOT [SNAPSHOT2]]"
    if len(rest) > 2:
        raise CommandError("map diff takes at most two snapshot names", usage)
    maps = session.maps
    if not rest:
        if not session.maps_at_run_start:
            raise CommandError(
                "no run has started: nothing to compare with; give a snapshot name (map snapshot [NAME] "
                "saves one)",
                usage,
            )
        old, old_name = session.maps_at_run_start, "the start of the run"
    else:
        old, old_name = get_snapshot(session, rest[0]), f"snapshot {rest[0]!r}"
    if len(rest) == 2:
        new, new_name = get_snapshot(session, rest[1]), f"snapshot {rest[1]!r}"
    else:
        new, new_name = capture_maps(maps), "now"
    diff = diff_snapshots(maps, old, new)
    data = {"from": old_name, "to": new_name, "maps": diff}
    if not diff:
        return finish("map", data, [f"no map changed between {old_name} and {new_name}"], style)
    lines = [f"map changes from {old_name} to {new_name}:", *diff_lines(session, maps, diff)]
    return finish("map", data, lines, style)


def export_data(maps: MapSet, names: Sequence[str] = ()) -> dict[str, list[dict[str, str]]]:
    """The ``--maps`` file shape, ``{"map": [{"key": hex, "value": hex}]}``, for the maps
    whose contents ``update`` can put back (per-CPU values: one slot per CPU; stacks bottom
    first, so importing pushes them back in order)."""
    out: dict[str, list[dict[str, str]]] = {}
    for m in maps:
        if names and m.name not in names:
            continue
        if isinstance(m, NOT_RESTORABLE) or m.frozen:
            continue
        entries = map_entries(m)
        if isinstance(m, StackMap):
            entries = list(reversed(entries))
        out[m.name] = [{"key": k.hex(), "value": v.hex()} for k, v in entries]
    return out


def do_export(session: Session, rest: list[str], style: str | None) -> CommandResult:
    usage = "map export FILE [MAP...]"
    if not rest:
        raise CommandError("map export needs a file name", usage)
    path, names = rest[0], rest[1:]
    for name in names:
        resolve_map(session, [name], usage)
    data = export_data(session.maps, names)
    try:
        Path(path).write_text(json.dumps(data, indent=2) + "\n")
    except OSError as err:
        raise CommandError(f"cannot write {path}: {err.strerror or err}") from None
    count = sum(len(v) for v in data.values())
    line = f"exported {plural(len(data), 'map')} ({count} entries) to {path}; load it with --maps {path}"
    return finish("map", {"file": path, "maps": sorted(data), "entries": count}, [line], style)


def do_import(session: Session, rest: list[str], style: str | None) -> CommandResult:
    usage = "map import FILE"
    if len(rest) != 1:
        raise CommandError("map import needs one file name", usage)
    path = rest[0]
    try:
        entries = read_map_entries(path, Path(session.path or "").name)
    except CaptureError as err:
        raise CommandError(str(err)) from None
    maps = session.maps
    checked: list[tuple[Map, bytes, bytes]] = []
    for name, key, value in entries:  # check everything before changing anything
        try:
            m = maps[name]
        except KeyError as err:
            raise CommandError(f"{path}: {err.args[0]}") from None
        if isinstance(m, NOT_RESTORABLE):
            raise CommandError(
                f"{path}: map {name} is {_article(m.type.label)} {m.type.label}; "
                "its contents cannot be imported"
            )
        if not m.keyless and len(key) != m.key_size:
            raise CommandError(
                f"{path}: key size mismatch: map {name} wants {m.key_size} bytes, got {len(key)}"
            )
        if len(value) not in value_sizes(m):
            raise CommandError(
                f"{path}: value size mismatch: map {name} wants {m.value_size} bytes, got {len(value)}"
            )
        checked.append((m, key, value))
    for m, key, value in checked:
        code = m.update(None if m.keyless else key, value, BPF_ANY)
        if code:
            session.edited("maps")
            raise failed(f"import into {m.name} (key {key.hex() or '-'})", code, m)
    session.edited("maps")
    names = sorted({m.name for m, _, _ in checked})
    line = f"imported {plural(len(checked), 'entry')} into {', '.join(names) or 'no map'} from {path}"
    return finish("map", {"file": path, "entries": len(checked), "maps": names}, [line], style)


# -- the commands -----------------------------------------------------------------------------
@command("map", category="data", subcommands=BPFTOOL_VERBS + EXTRA_VERBS, completes="map")
def cmd_map(session: Session, args: str) -> CommandResult:
    """map VERB [MAP] [key DATA] [value DATA] [any|exist|noexist] [-j]

    The program's maps as the machine has them now, with bpftool's words (a keyword may be
    shortened as in bpftool: "map d rules" is dump). MAP is a name, "name NAME" or "id N".
      map list|show [MAP]                        type, sizes, max_entries, element count
      map dump MAP                               every entry (with BTF: decoded too)
      map lookup MAP key DATA
      map update MAP key DATA value DATA [any|exist|noexist]
      map delete MAP key DATA
      map getnext MAP [key DATA]                 the key after DATA (or the first key)
      map peek|pop|dequeue MAP                   queue/stack: next value (pop removes it)
      map push|enqueue MAP value DATA [exist]    queue/stack (exist: overwrite the oldest)
      map event_pipe MAP [consume]               ring buffer / perf event records
      map snapshot [NAME] / map restore [NAME]   save / put back every map (NAME "default")
      map reset                                  contents after loading (ends the run)
      map diff [SNAP [SNAP2]]                    changes since the run started, or a snapshot
      map export FILE [MAP...] / map import FILE JSON as --maps reads it
    DATA is bpftool's "[hex] BYTES": "6 0 0 80", "0x06 0 0 0x50" (a leading 0 is octal, as in
    bpftool), "hex 06 00 00 50" or "hex 06000050"; one number alone for a key or value wider
    than a byte is an integer stored little-endian ("key 17"). Per-CPU maps take one value
    for every CPU or one 8-byte-aligned slot per CPU. -j/--json (-p: indented) anywhere gives
    bpftool's JSON.
    """
    words, style = take_json_flags(split_args(args))
    if not words:
        return list_maps(session, [], style, "map")
    verb = first_match(words[0], BPFTOOL_VERBS, EXTRA_VERBS, "map subcommand")
    rest = words[1:]
    if verb in ("list", "show"):
        return list_maps(session, rest, style, "map")
    handlers = {"snapshot": do_snapshot, "restore": do_restore, "reset": do_reset, "diff": do_diff,
                "export": do_export, "import": do_import}  # fmt: skip
    if verb in handlers:
        return handlers[verb](session, rest, style)
    m, rest = resolve_map(session, rest, f"map {verb} MAP ...")
    if verb == "dump":
        return do_dump(session, m, rest, style)
    if verb == "lookup":
        return do_lookup(session, m, rest, style)
    if verb == "update":
        return do_update(session, m, rest, style)
    if verb == "delete":
        return do_delete(session, m, rest, style)
    if verb == "getnext":
        return do_getnext(session, m, rest, style)
    if verb in ("peek", "pop", "dequeue"):
        return do_peek_pop(session, m, rest, style, "peek" if verb == "peek" else "pop")
    if verb in ("push", "enqueue"):
        return do_push(session, m, rest, style)
    assert verb == "event_pipe"
    return event_pipe(session, [m.name, *rest], style, "map")


@sub_of("info", "maps")
def info_maps(session: Session, args: str) -> CommandResult:
    """info maps [MAP] [-j]

    The program's maps: id, type, name, flags, key and value sizes, max_entries and how many
    elements each holds now (the same as "map list").
    """
    words, style = take_json_flags(split_args(args))
    return list_maps(session, words, style, "info maps")


__all__ = [
    "capture_maps",
    "cmd_map",
    "diff_snapshots",
    "info_maps",
    "json_text",
    "map_entries",
    "parse_bytes",
]


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
