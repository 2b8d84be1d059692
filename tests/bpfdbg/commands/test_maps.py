"""``map`` and ``info maps``: bpftool's verbs, layout and JSON on the live maps, and the
snapshot/restore/diff/export/import commands bpftool does not have."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfdbg.commands.maps import capture_maps, parse_bytes
from bpfdbg.commands.registry import CommandError
from bpfdbg.events import StateChanged
from bpfdbg.session import Session

from . import err, ok, open_sample, run_packet


@pytest.fixture
def mim() -> Session:
    """xdp_map_in_map: hashes with BTF (acl_tenant0/1, vlan_tenant), an array of maps and a
    queue (drop_log)."""
    return open_sample("xdp_map_in_map")


@pytest.fixture
def fw() -> Session:
    return open_sample("xdp_firewall")


@pytest.fixture
def percpu() -> Session:
    return open_sample("xdp_percpu_counter", maps=False)


def maps_changed(session: Session, line: str) -> bool:
    result = session.execute(line)
    assert result.ok, result.error
    return any(isinstance(e, StateChanged) and e.what == "maps" for e in result.events)


# -- list / show / info maps ---------------------------------------------------------------------
def test_map_list_shows_bpftool_header_and_element_count(mim: Session) -> None:
    lines = ok(mim, "map list")
    assert lines[0] == "1: hash  name acl_tenant0  flags 0x0"
    assert lines[1] == "\tkey 4B  value 4B  max_entries 256  elements 3"
    assert "5: queue  name drop_log  flags 0x0" in lines
    assert "\tkey 0B  value 8B  max_entries 16  elements 0" in lines
    data = mim.execute("map list").data
    assert [row["name"] for row in data] == [
        "acl_tenant0",
        "acl_tenant1",
        "tenant_acls",
        "vlan_tenant",
        "drop_log",
    ]
    first = data[0]
    assert {k: first[k] for k in ("id", "type", "bytes_key", "bytes_value", "max_entries", "elements")} == {
        "id": 1,
        "type": "hash",
        "bytes_key": 4,
        "bytes_value": 4,
        "max_entries": 256,
        "elements": 3,
    }
    assert first["btf_key_type"] == "struct acl_key"


def test_map_show_one_and_info_maps_agree(mim: Session) -> None:
    shown = mim.execute("map show vlan_tenant")
    info = mim.execute("info maps vlan_tenant")
    assert shown.lines == info.lines
    assert shown.data == info.data
    assert shown.data["elements"] == 3
    assert mim.execute("map show id 4").data == shown.data
    assert mim.execute("map show name vlan_tenant").data == shown.data
    assert ok(mim, "map")[0] == ok(mim, "info maps")[0]


def test_map_list_json_puts_the_json_text_in_lines(mim: Session) -> None:
    result = mim.execute("map list -j")
    assert result.lines == [json.dumps(result.data, separators=(",", ":"))]
    pretty = mim.execute("map -p list")  # the flag may come before the verb, as in bpftool
    assert json.loads("\n".join(pretty.lines)) == result.data
    assert len(pretty.lines) > 1


def test_map_show_marks_global_data_and_frozen_maps() -> None:
    s = open_sample("xdp_subprog_globals", maps=False)
    data = {row["name"]: row for row in s.execute("map list").data}
    assert data["xdp_subp.rodata"]["frozen"] == 1
    assert data["xdp_subp.rodata"]["section"] == ".rodata"
    assert "frozen  section .rodata" in " ".join(ok(s, "map show xdp_subp.rodata"))


# -- dump --------------------------------------------------------------------------------------
def test_dump_plain_is_bpftool_layout_with_formatted_lines(mim: Session) -> None:
    lines = ok(mim, "map dump acl_tenant0")
    assert lines[0] == "key: 06 00 00 50  value: 02 00 00 00"
    assert lines[1] == 'formatted: {"key": {"proto": 6, "pad": 0, "port": 20480}, "value": 2}'
    assert lines[-1] == "Found 3 elements"
    assert ok(mim, "map dump acl_tenant1")[-1] == "Found 2 elements"


def test_dump_prefix_follows_bpftool_first_match(mim: Session) -> None:
    assert ok(mim, "map d acl_tenant0") == ok(mim, "map dump acl_tenant0")
    assert ok(mim, "map du acl_tenant0") == ok(mim, "map dump acl_tenant0")


def test_dump_json_has_hex_arrays_and_formatted(mim: Session) -> None:
    result = mim.execute("map dump acl_tenant0 -j")
    assert result.ok
    rows = result.data
    assert rows[0] == {
        "key": ["0x06", "0x00", "0x00", "0x50"],
        "value": ["0x02", "0x00", "0x00", "0x00"],
        "formatted": {"key": {"proto": 6, "pad": 0, "port": 20480}, "value": 2},
    }
    assert json.loads(result.lines[0]) == rows
    assert mim.execute("map --json dump acl_tenant0").data == rows


def test_dump_per_cpu_values_like_bpftool(percpu: Session) -> None:
    run_packet(percpu, 0)
    lines = ok(percpu, "map dump ethertype_stats")
    assert lines[:4] == [
        "key:",
        "00 08",
        "value (CPU 00): 01 00 00 00 00 00 00 00",
        "value (CPU 01): 00 00 00 00 00 00 00 00",
    ]
    assert lines[-1] == "Found 1 element"
    rows = percpu.execute("map dump ethertype_stats -j").data
    assert rows[0]["key"] == ["0x00", "0x08"]
    assert rows[0]["values"][0] == {"cpu": 0, "value": ["0x01"] + ["0x00"] * 7}
    assert rows[0]["formatted"] == {"key": 2048, "values": [{"cpu": 0, "value": 1}, {"cpu": 1, "value": 0}]}
    # 16-byte values stay on the line; the 8-byte halves are split by two spaces
    proto = ok(percpu, "map lookup proto_stats key 2")
    assert proto[2] == "value (CPU 00): 01 00 00 00 00 00 00 00  4a 00 00 00 00 00 00 00"


def test_dump_map_in_map_and_prog_array_name_what_they_hold(mim: Session) -> None:
    lines = ok(mim, "map dump tenant_acls")
    assert lines[0] == "key: 00 00 00 00  inner_map_id: 1  (map acl_tenant0)"
    rows = mim.execute("map dump tenant_acls -j").data
    assert rows[1]["inner_map"] == "acl_tenant1" and rows[1]["inner_map_id"] == 2
    tail = open_sample("xdp_tailcall", maps=False, pcap=False)
    lines = ok(tail, "map dump jmp_table")
    assert lines[0] == "key: 00 00 00 00  value: 00 00 00 00  (program handle_ipv4)"
    assert lines[1] == "key: 01 00 00 00  value: 01 00 00 00  (program handle_ipv6)"  # its prog list id
    assert tail.execute("map dump jmp_table -j").data[0]["program"] == "handle_ipv4"


def test_update_prog_array_takes_a_program_handle() -> None:
    tail = open_sample("xdp_tailcall", maps=False, pcap=False)
    ok(tail, "map update jmp_table key 2 value name handle_tcp")
    ok(tail, "map update jmp_table key 5 value id 3")
    ok(tail, "map update jmp_table key 6 value 4")  # the id, as bytes: 04 00 00 00
    ok(tail, "map update jmp_table key 7 value handle_ipv6")
    programs = {row["key"][0]: row["program"] for row in tail.execute("map dump jmp_table -j").data}
    assert {k: programs[k] for k in ("0x02", "0x05", "0x06", "0x07")} == {
        "0x02": "handle_tcp",
        "0x05": "handle_udp",
        "0x06": "xdp_dispatch",
        "0x07": "handle_ipv6",
    }
    assert err(tail, "map update jmp_table key 7 value nosuch").startswith("no program 'nosuch'; programs:")
    assert err(tail, "map update jmp_table key 7 value id 9") == "no program with id 9; ids 0-4 (prog list)"
    assert "a 4-byte program id, got 2" in err(tail, "map update jmp_table key 7 value 1 2")
    assert err(tail, "map update jmp_table key 70 value 1").startswith(
        "update failed: Argument list too long"
    )


def test_dump_global_data_formats_the_datasec() -> None:
    s = open_sample("xdp_subprog_globals", maps=False)
    rows = s.execute("map dump xdp_subp.rodata -j").data
    assert rows[0]["formatted"]["value"][".rodata"][0] == {"cfg_min_ttl": 2}


def test_dump_ring_buffer_lists_its_records() -> None:
    s = open_sample("xdp_ringbuf", maps=False)
    run_packet(s, 0)
    result = s.execute("map dump events")
    assert result.ok
    assert result.lines[0] == "ringbuf events: 1 record"
    assert result.data["maps"]["events"]["records"][0]["size"] == 40


# -- lookup / getnext ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        "6 0 0 80",  # decimal bytes
        "0x06 0 0 0x50",  # hex per byte
        "6 0 0 0120",  # a leading 0 is octal, as strtoul reads it in bpftool
        "hex 06 00 00 50",
        "hex 6 0 0 50",
        "hex 06000050",  # one word of several bytes
        "0x50000006",  # one number alone: little-endian
        "1342177286",
    ],
)
def test_lookup_accepts_bpftool_data_forms(mim: Session, data: str) -> None:
    result = mim.execute(f"map lookup acl_tenant0 key {data}")
    assert result.ok, result.error
    assert result.lines[0] == "key: 06 00 00 50  value: 02 00 00 00"
    assert result.data["value"] == ["0x02", "0x00", "0x00", "0x00"]


def test_lookup_single_number_fills_a_short_key(mim: Session) -> None:
    assert ok(mim, "map lookup vlan_tenant key 100")[0] == "key: 64 00  value: 00 00 00 00"
    assert ok(mim, "map lookup name vlan_tenant key 0x190")[0] == "key: 90 01  value: 05 00 00 00"


def test_lookup_missing_key_fails(mim: Session) -> None:
    assert (
        err(mim, "map lookup acl_tenant0 key 1 2 3 4")
        == "lookup failed: key 01 02 03 04 not found in map acl_tenant0"
    )


def test_lookup_errors(mim: Session) -> None:
    assert (
        err(mim, "map lookup acl_tenant0 key 6 0")
        == "key size mismatch: map acl_tenant0 wants 4 bytes, got 2"
    )
    assert "not hex" in err(mim, "map lookup acl_tenant0 key hex zz 0 0 0")
    assert "odd number of hex digits" in err(mim, "map lookup acl_tenant0 key hex 060")
    assert "not a number" in err(mim, "map lookup acl_tenant0 key 6 x 0 0")
    assert "out of range (0-255)" in err(mim, "map lookup acl_tenant0 key 300 0 0 0")
    assert "does not fit in 4 bytes" in err(mim, "map lookup acl_tenant0 key 0x100000000")
    assert "key expected" in err(mim, "map lookup acl_tenant0 key")
    assert "lookup takes only 'key BYTES'" in err(mim, "map lookup acl_tenant0")
    assert "expected 'key' or 'value'" in err(mim, "map lookup acl_tenant0 6 0 0 80")
    assert err(mim, "map lookup nosuch key 1").startswith("no map 'nosuch'; maps: acl_tenant0")
    assert "no map with id 42" in err(mim, "map lookup id 42 key 1")
    assert "a map is needed" in err(mim, "map lookup")
    assert "no bpffs" in err(mim, "map dump pinned /sys/fs/bpf/x")


def test_getnext_walks_the_keys(mim: Session) -> None:
    first = mim.execute("map getnext vlan_tenant")
    assert first.lines == ["key: None", "next key:", "64 00"]
    assert first.data == {"key": None, "next_key": ["0x64", "0x00"]}
    keys = [bytes(int(b, 16) for b in first.data["next_key"])]
    while True:
        result = mim.execute(f"map getnext vlan_tenant key hex {keys[-1].hex()}")
        if not result.ok:
            assert (result.error or "").startswith("can't get next key: No such file or directory")
            break
        keys.append(bytes(int(b, 16) for b in result.data["next_key"]))
    assert sorted(keys) == sorted(k for k, _ in mim.maps["vlan_tenant"].items())


def test_getnext_on_a_queue_fails(mim: Session) -> None:
    assert "it has no keys to iterate" in err(mim, "map getnext drop_log")


# -- update / delete -----------------------------------------------------------------------------
def test_update_then_lookup_and_the_session_hears_of_it(mim: Session) -> None:
    assert maps_changed(mim, "map update acl_tenant0 key 6 0 0 8 value 1 0 0 0 noexist")
    assert ok(mim, "map lookup acl_tenant0 key 6 0 0 8")[0] == "key: 06 00 00 08  value: 01 00 00 00"
    assert maps_changed(mim, "map update acl_tenant0 key 6 0 0 8 value 2 exist")
    assert mim.maps["acl_tenant0"].user_lookup(bytes([6, 0, 0, 8])) == bytes([2, 0, 0, 0])
    result = mim.execute("map update vlan_tenant key 7 value 9 -j")
    assert result.data == {
        "map": "vlan_tenant",
        "key": ["0x07", "0x00"],
        "value": ["0x09", "0x00", "0x00", "0x00"],
    }


def test_update_flag_errors_are_the_kernels(mim: Session) -> None:
    assert err(mim, "map update acl_tenant0 key hex 06000050 value 1 noexist").startswith(
        "update failed: File exists"
    )
    assert err(mim, "map update acl_tenant0 key 1 2 3 4 value 1 exist").startswith(
        "update failed: No such file or directory"
    )
    assert "at most one of any, exist, noexist" in err(mim, "map update acl_tenant0 key 1 value 1 any exist")
    assert "'key' given twice" in err(mim, "map update acl_tenant0 key 1 key 2 value 1")
    assert "update needs 'key BYTES value BYTES'" in err(mim, "map update acl_tenant0 key 1")
    assert err(mim, "map update acl_tenant0 key 1 value 1 2") == (
        "value size mismatch: map acl_tenant0 wants 4 bytes, got 2"
    )


def test_update_array_past_max_entries(fw: Session) -> None:
    assert err(fw, "map update fw_counters key 64 value 0").startswith(
        "update failed: Argument list too long"
    )


def test_update_frozen_map_is_refused() -> None:
    s = open_sample("xdp_subprog_globals", maps=False)
    assert err(s, "map update xdp_subp.rodata key 0 value 1").startswith(
        "update failed: Operation not permitted"
    )


def test_update_per_cpu_one_value_for_all_or_one_slot_per_cpu(percpu: Session) -> None:
    ok(percpu, "map update ethertype_stats key 0x800 value 3")
    assert percpu.execute("map lookup ethertype_stats key 0x800").data["formatted"]["values"] == [
        {"cpu": 0, "value": 3},
        {"cpu": 1, "value": 3},
    ]
    ok(percpu, "map update ethertype_stats key 0x800 value hex 0100000000000000 0200000000000000")
    lines = ok(percpu, "map lookup ethertype_stats key 0x800")
    assert lines[2:4] == [
        "value (CPU 00): 01 00 00 00 00 00 00 00",
        "value (CPU 01): 02 00 00 00 00 00 00 00",
    ]
    assert "or 2 x 8, one slot per CPU" in err(percpu, "map update ethertype_stats key 1 value 1 2 3")


def test_update_map_in_map_takes_a_map_handle(mim: Session) -> None:
    ok(mim, "map update tenant_acls key 2 value name acl_tenant1")
    assert mim.execute("map lookup tenant_acls key 2").data["inner_map"] == "acl_tenant1"
    ok(mim, "map update tenant_acls key 3 value id 1")
    assert mim.execute("map lookup tenant_acls key 3").data["inner_map"] == "acl_tenant0"


def test_delete(mim: Session, fw: Session) -> None:
    assert maps_changed(mim, "map delete vlan_tenant key 100")
    assert err(mim, "map lookup vlan_tenant key 100").startswith("lookup failed")
    assert err(mim, "map delete vlan_tenant key 100").startswith("delete failed: No such file or directory")
    assert err(fw, "map delete fw_counters key 0") == (
        "delete failed: Invalid argument (array elements cannot be deleted)"
    )
    assert "delete takes only 'key BYTES'" in err(mim, "map delete vlan_tenant key 1 value 2")


# -- queues and stacks ---------------------------------------------------------------------------
def test_queue_push_peek_pop(mim: Session) -> None:
    assert maps_changed(mim, "map push drop_log value 1")
    ok(mim, "map enqueue drop_log value hex 0102030405060708")
    assert ok(mim, "map dump drop_log")[0] == "value: 01 00 00 00 00 00 00 00"
    assert ok(mim, "map peek drop_log")[0] == "value: 01 00 00 00 00 00 00 00"
    assert maps_changed(mim, "map pop drop_log")
    popped = mim.execute("map dequeue drop_log -j")
    assert popped.data["key"] == [] and popped.data["value"] == hexes("0102030405060708")
    assert popped.data["formatted"]["value"]["vlan"] == 513
    assert err(mim, "map pop drop_log") == "pop failed: map drop_log is empty"
    assert err(mim, "map peek drop_log") == "peek failed: map drop_log is empty"


def test_queue_full_push(mim: Session) -> None:
    for i in range(16):
        ok(mim, f"map push drop_log value {i}")
    assert "the map is full" in err(mim, "map push drop_log value 99")
    ok(mim, "map push drop_log value 99 exist")  # overwrites the oldest
    assert ok(mim, "map peek drop_log")[0] == "value: 01 00 00 00 00 00 00 00"


def test_queue_verbs_on_other_maps_and_keyed_verbs_on_queues(mim: Session) -> None:
    assert "needs a queue or stack map; acl_tenant0 is a hash" in err(mim, "map push acl_tenant0 value 1")
    assert "needs a queue or stack map" in err(mim, "map pop acl_tenant0")
    assert "it has no keys to lookup; use peek, push or pop" in err(mim, "map lookup drop_log key 1")
    assert "push needs 'value BYTES'" in err(mim, "map push drop_log key 1 value 1")


def test_ring_buffer_has_no_keys() -> None:
    s = open_sample("xdp_ringbuf", maps=False)
    assert "ringbuf: it has no keys to lookup; use event_pipe" in err(s, "map lookup events key 1")
    assert "it has no keys to update" in err(s, "map update events key 1 value 1")


# -- keywords ---------------------------------------------------------------------------------------
def test_unknown_and_ambiguous_subcommands(mim: Session) -> None:
    assert err(mim, "map frobnicate").startswith(
        "unknown map subcommand 'frobnicate'; expected one of show|list"
    )
    assert err(mim, "map re") == "ambiguous map subcommand 're': restore, reset"
    assert "snapshot 'default' saved" in ok(mim, "map sn")[0]


def test_parse_bytes_directly() -> None:
    assert parse_bytes(["-1"], "value", 4) == b"\xff\xff\xff\xff"
    assert parse_bytes(["hex", "0x0a0b"], "key", 2) == b"\x0a\x0b"
    with pytest.raises(CommandError, match="'hex' must be followed"):
        parse_bytes(["hex"], "key", 2)


# -- snapshot / restore / reset / diff ---------------------------------------------------------
def test_snapshot_restore_round_trip(mim: Session) -> None:
    assert ok(mim, "map snapshot")[0] == "snapshot 'default' saved: 5 maps, 10 entries"
    ok(mim, "map update acl_tenant0 key 1 2 3 4 value 1")
    ok(mim, "map delete vlan_tenant key 100")
    ok(mim, "map push drop_log value 7")
    ok(mim, "map delete tenant_acls key 1")
    assert mim.execute("map diff default").data["maps"].keys() == {
        "acl_tenant0",
        "vlan_tenant",
        "drop_log",
        "tenant_acls",
    }
    assert maps_changed(mim, "map restore")
    assert ok(mim, "map diff default") == ["no map changed between snapshot 'default' and now"]
    assert capture_maps(mim.maps) == mim.map_snapshots["default"]


def test_snapshots_by_name_and_errors(mim: Session) -> None:
    ok(mim, "map snapshot a")
    ok(mim, "map update vlan_tenant key 1 value 1")
    assert "replaced" in ok(mim, "map snapshot a")[0]
    assert err(mim, "map restore nope") == "no map snapshot 'nope'; snapshots: a"
    assert "snapshots: a" in ok(mim, "map list")
    assert "at most two snapshot names" in err(mim, "map diff a b c")
    assert "takes one name" in err(mim, "map snapshot a b")


def test_diff_between_two_snapshots(mim: Session) -> None:
    ok(mim, "map snapshot before")
    ok(mim, "map update vlan_tenant key 100 value 3")
    ok(mim, "map snapshot after")
    ok(mim, "map update vlan_tenant key 100 value 4")
    result = mim.execute("map diff before after")
    assert result.data["maps"] == {
        "vlan_tenant": {
            "changed": [{"key": "6400", "old": "00000000", "new": "03000000"}],
            "added": [],
            "removed": [],
        }
    }
    assert result.lines[1:] == [
        "vlan_tenant: 1 changed",
        "  ~ key: 64 00  value: 00 00 00 00 0 -> 03 00 00 00 3",
    ]


def test_diff_needs_a_run_or_a_snapshot(fw: Session) -> None:
    assert err(fw, "map diff").startswith("no run has started")


def test_diff_since_the_run_started(fw: Session) -> None:
    run_packet(fw, 0)
    result = fw.execute("map diff")
    assert result.ok
    changed = result.data["maps"]["fw_counters"]["changed"]
    assert changed == [{"key": "00000000", "old": "00" * 16, "new": "0100000000000000" + "4a00000000000000"}]
    assert result.lines[0] == "map changes from the start of the run to now:"
    after = '01 00 00 00 00 00 00 00 4a 00 00 00 00 00 00 00 {"packets": 1, "bytes": 74}'
    assert result.lines[2].endswith(f'{{"packets": 0, "bytes": 0}} -> {after}')


def test_diff_per_cpu_shows_the_cpus_that_changed(percpu: Session) -> None:
    run_packet(percpu, 0)
    lines = ok(percpu, "map diff")
    at = lines.index("proto_stats: 1 changed")
    assert lines[at + 1] == "  ~ key: 02 00 00 00"
    assert lines[at + 2].startswith("      value (CPU 00): 00 00")
    assert not lines[at + 3 :] or not lines[at + 3].startswith("      value (CPU 01)")  # CPU 1 unchanged
    added = lines[lines.index("ethertype_stats: 1 added") + 1 :]
    assert added[:3] == [
        "  + key: 00 08",
        "      value (CPU 00): 01 00 00 00 00 00 00 00 1",
        "      value (CPU 01): 00 00 00 00 00 00 00 00 0",
    ]


def test_reset_returns_to_the_loaded_contents(mim: Session) -> None:
    ok(mim, "map snapshot")
    ok(mim, "map update vlan_tenant key 1 value 1")
    assert maps_changed(mim, "map reset")
    assert ok(mim, "map diff default") == ["no map changed between snapshot 'default' and now"]
    assert "takes no arguments" in err(mim, "map reset now")


# -- export / import --------------------------------------------------------------------------------
def test_export_import_round_trip(fw: Session, tmp_path: Path) -> None:
    run_packet(fw, 0)
    target = tmp_path / "maps.json"
    assert ok(fw, f"map export {target}")[0].startswith("exported 2 maps (73 entries)")
    saved = json.loads(target.read_text())
    assert saved["fw_counters"][0] == {"key": "00000000", "value": "0100000000000000" + "4a00000000000000"}
    ok(fw, "map snapshot after-run")
    ok(fw, "map reset")
    assert fw.execute("map diff after-run").data["maps"]
    assert maps_changed(fw, f"map import {target}")
    assert ok(fw, "map diff after-run") == ["no map changed between snapshot 'after-run' and now"]
    # the file is what --maps reads
    fresh = Session.open(Path(fw.path or ""), maps=target)
    assert capture_maps(fresh.maps)["fw_counters"] == capture_maps(fw.maps)["fw_counters"]


def test_export_per_cpu_and_queue_round_trip(percpu: Session, mim: Session, tmp_path: Path) -> None:
    run_packet(percpu, 0)
    target = tmp_path / "pc.json"
    ok(percpu, f"map export {target} ethertype_stats")
    assert list(json.loads(target.read_text())) == ["ethertype_stats"]
    ok(percpu, "map reset")
    ok(percpu, f"map import {target}")
    assert percpu.execute("map dump ethertype_stats -j").data[0]["formatted"]["values"][0] == {
        "cpu": 0,
        "value": 1,
    }
    for v in (5, 6, 7):
        ok(mim, f"map push drop_log value {v}")
    queue_file = tmp_path / "q.json"
    ok(mim, f"map export {queue_file} drop_log")
    ok(mim, "map reset")
    ok(mim, f"map import {queue_file}")
    assert [row["value"][0] for row in mim.execute("map dump drop_log -j").data] == ["0x05", "0x06", "0x07"]


def test_import_errors(fw: Session, tmp_path: Path) -> None:
    assert "cannot read map entries" in err(fw, f"map import {tmp_path / 'missing.json'}")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nosuch": [{"key": "00", "value": "00"}]}))
    assert "no map 'nosuch'" in err(fw, f"map import {bad}")
    bad.write_text(json.dumps({"fw_rules": [{"key": "00", "value": "00"}]}))
    assert "key size mismatch: map fw_rules wants 8 bytes, got 1" in err(fw, f"map import {bad}")
    bad.write_text(json.dumps({"fw_rules": [{"key": "0000000000000000", "value": "00"}]}))
    assert "value size mismatch" in err(fw, f"map import {bad}")
    assert "needs one file name" in err(fw, "map import")
    assert "needs a file name" in err(fw, "map export")
    assert "cannot write" in err(fw, f"map export {tmp_path / 'no' / 'dir' / 'x.json'}")


# -- the real bpftool ------------------------------------------------------------------------------
def _bpftool_usable() -> str | None:
    if shutil.which("bpftool") is None:
        return "bpftool is not installed"
    if os.geteuid() != 0 or not Path("/sys/fs/bpf").is_dir():
        return "needs root and a mounted bpffs"
    from emulator.backends.kernel.syscall import available

    return available()


@pytest.fixture
def bpffs() -> Iterator[Path]:
    why = _bpftool_usable()
    if why is not None:
        pytest.skip(why)
    pin = Path("/sys/fs/bpf") / f"bpfdbg_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    pin.mkdir()
    try:
        yield pin
    finally:
        shutil.rmtree(pin, ignore_errors=True)


def bpftool(*args: str) -> str:
    return subprocess.run(["bpftool", *args], check=True, capture_output=True, text=True).stdout


def test_dump_matches_bpftool_on_a_kernel_map(mim: Session, bpffs: Path) -> None:
    """The same entries in a real kernel hash map: bpftool's plain lines and -j arrays are
    ours (bpftool prints no BTF form for a map created without BTF, so ours is left out)."""
    pin = str(bpffs / "acl")
    bpftool("map", "create", pin, "type", "hash", "key", "4", "value", "4", "entries", "256", "name", "acl")
    for key, value in mim.maps["acl_tenant0"].items():
        assert isinstance(value, bytes)
        bpftool("map", "update", "pinned", pin, "key", "hex", *key.hex(" ").split(), "value", "hex",
                *value.hex(" ").split())  # fmt: skip
    theirs = bpftool("map", "dump", "pinned", pin).splitlines()
    ours = [line for line in ok(mim, "map dump acl_tenant0") if not line.startswith("formatted:")]
    assert sorted(theirs) == sorted(ours)
    theirs_json = json.loads(bpftool("-j", "map", "dump", "pinned", pin))
    ours_json = [
        {k: v for k, v in row.items() if k != "formatted"}
        for row in mim.execute("map dump acl_tenant0 -j").data
    ]
    assert sorted(theirs_json, key=str) == sorted(ours_json, key=str)
    one = json.loads(bpftool("-j", "map", "lookup", "pinned", pin, "key", "6", "0", "0", "80"))
    assert one == {
        k: v for k, v in mim.execute("map lookup acl_tenant0 key 6 0 0 80").data.items() if k != "formatted"
    }


def test_per_cpu_dump_matches_bpftool_shape(percpu: Session, bpffs: Path) -> None:
    pin = str(bpffs / "pc")
    bpftool(
        "map", "create", pin, "type", "percpu_hash", "key", "2", "value", "8", "entries", "32", "name", "pc"
    )
    bpftool("map", "update", "pinned", pin, "key", "0", "8", "value", "1", "0", "0", "0", "0", "0", "0", "0")
    ok(percpu, "map update ethertype_stats key 0 8 value 1 0 0 0 0 0 0 0")
    theirs = json.loads(bpftool("-j", "map", "dump", "pinned", pin))
    ours = percpu.execute("map dump ethertype_stats -j").data
    assert theirs[0]["key"] == ours[0]["key"]
    assert theirs[0]["values"][0] == ours[0]["values"][0]  # {"cpu": 0, "value": [...]}
    assert set(theirs[0]) == set(ours[0]) - {"formatted"}
    plain = bpftool("map", "dump", "pinned", pin).splitlines()
    assert plain[:3] == ok(percpu, "map dump ethertype_stats")[:3]


def hexes(text: str) -> list[str]:
    return [f"0x{b:02x}" for b in bytes.fromhex(text)]
