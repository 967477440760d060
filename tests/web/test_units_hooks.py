"""Small pure pieces behind the hook inputs and the results: numbers, packet builder fields, header decoding,
map tables, and a run's states at every step."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.packets import build_packet, parse_spec
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.vm import run
from app.web import mapview, packetform
from app.web.ctxform import ctx_value, describe, parse_ctx
from app.web.decode import decode, layer_of_bytes, summary
from app.web.examples import BY_SLUG
from app.web.hexdump import HexGap, Marks, packet_dump
from app.web.inputs import FieldError, Limits, parse_int

# --- numbers ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, size, value", [
    ("0", 8, 0), ("-1", 4, 0xFFFFFFFF), ("0x41", 1, 0x41), ("0o644", 4, 420), ("0b101", 2, 5), ("1_000", 4, 1000),
    ("007", 4, 7), ("-128", 1, 0x80), ("18446744073709551615", 8, (1 << 64) - 1),
])
def test_parse_int(text, size, value):
    assert parse_int("f", text, size) == value


@pytest.mark.parametrize("text, size", [("256", 1), ("-129", 1), ("0x", 4), ("1.5", 4), ("", 4), ("0x1" + "0" * 16, 8)])
def test_parse_int_refuses(text, size):
    with pytest.raises(FieldError):
        parse_int("f", text, size)


def test_socket_address_conversions():
    assert ctx_value("f", "ip4", 4, "10.0.0.2") == 0x0200000A
    assert ctx_value("f", "port", 4, "80") == 0x5000
    assert describe("ip4", 0x0200000A, 4) == "10.0.0.2 (0x0200000a)"
    assert describe("port", 0x901F, 4) == "port 8080 (0x901f)"
    assert describe("int", 0xFFFFFFFFFFFFFF9C, 8) == "0xffffffffffffff9c (-100)"


def test_parse_ctx_reads_only_the_hooks_fields():
    values, errors = parse_ctx(PROG_TYPES["kprobe"], "", {"di": "1", "nope": "2", "si": ""})
    assert values == {"di": 1} and errors == {}
    _, errors = parse_ctx(PROG_TYPES["kprobe"], "", {"di": "x"})
    assert set(errors) == {"ctx_di"}


# --- the packet builder -------------------------------------------------------------------------------------

def test_blank_layer_form_builds_the_engines_default_packet():
    values = {**packetform.DEFAULT_CHOICES, "payload": ""}
    assert packetform.build_from_fields(values) == build_packet(parse_spec("eth/ipv4/udp"))


@pytest.mark.parametrize("l3, l4", [("ipv4", "udp"), ("ipv4", "tcp"), ("ipv6", "udp"), ("ipv4", "icmp"), ("ipv6", "icmp")])
def test_placeholders_are_the_engines_defaults(l3, l4):
    """What a blank field shows in grey is what the engine puts there."""
    packet = packetform.build_from_fields({"l3": l3, "l4": l4})
    shown = {h.layer: {f.name: f.value for f in h.fields} for h in decode(packet)}
    v6 = l3 == "ipv6"
    for f in packetform.IP_FIELDS[:2]:
        assert shown[l3][f.field] == (f.placeholder6 if v6 else f.placeholder)
    assert shown["eth"]["dst"] == packetform.ETH_FIELDS[0].placeholder
    if l4 in ("udp", "tcp"):
        assert shown[l4]["sport"] == packetform.PORT_FIELDS[0].placeholder
        assert shown[l4]["dport"] in packetform.PORT_FIELDS[1].placeholder
    else:
        icmp = shown["icmpv6" if v6 else "icmp"]
        assert icmp["type"].split()[0] == (packetform.ICMP_FIELDS[0].placeholder6 if v6 else
                                           packetform.ICMP_FIELDS[0].placeholder).split()[0]


def test_engine_error_fields_map_to_form_fields():
    assert packetform.form_field_of("packet.ipv4.src") == "ip_src"
    assert packetform.form_field_of("packet.ipv6.hlim") == "ip_ttl"
    assert packetform.form_field_of("packet.tcp.flags") == "tcp_flags"
    assert packetform.form_field_of("packet.icmpv6.type") == "icmp_type"
    assert packetform.form_field_of("packet.udp") is None


def test_packet_limits_count_bytes_in_all():
    limits = Limits(100, 40, 10, packets=3, packet_bytes=50)
    assert packetform.check_packets("p", [b"x" * 20, b"y" * 20], limits)
    with pytest.raises(FieldError, match="add up to 60"):
        packetform.check_packets("p", [b"x" * 20] * 3, limits)
    with pytest.raises(FieldError, match="packet 1 is 41"):
        packetform.check_packets("p", [b"x" * 41], limits)


# --- decoding headers ----------------------------------------------------------------------------------------

def test_decode_a_tagged_tcp_packet():
    packet = build_packet(parse_spec("eth/vlan(vid=5)/ipv4(src=192.168.0.1,ttl=3)/tcp(dport=443,flags=SA)/payload(x)"))
    headers = decode(packet)
    assert [h.layer for h in headers] == ["eth", "vlan", "ipv4", "tcp", "payload"]
    assert [(h.start, h.end) for h in headers] == [(0, 14), (14, 18), (18, 38), (38, 58), (58, 59)]
    assert not any(h.problem for h in headers)
    assert summary(headers) == "VLAN 5 · IPv4 192.168.0.1 → 10.0.0.2 · TCP 12345 → 443 [SA] · 1 bytes"
    assert layer_of_bytes(headers, 20, base=10)[:5] == ["eth"] * 4 + ["vlan"]


def test_decode_reports_wrong_checksums_and_short_headers():
    packet = bytearray(build_packet(parse_spec("eth/ipv4/udp/payload(abc)")))
    packet[-1] ^= 1  # the UDP checksum no longer matches
    assert decode(bytes(packet))[2].problem == "wrong checksum"
    packet[24] ^= 1  # nor does the IPv4 header's
    assert decode(bytes(packet))[1].problem == "wrong header checksum"
    short = decode(bytes(packet[:20]))
    assert short[1].problem == "only 6 of the 20 bytes of a IPv4 header"
    assert decode(b"") == () and decode(bytes(5))[0].problem


def test_decode_from_the_network_header_with_a_base():
    packet = build_packet(parse_spec("eth/ipv6/icmpv6"))
    headers = decode(packet[14:], "ipv6", 14)
    assert headers[0].start == 14 and headers[1].layer == "icmpv6" and not headers[1].problem


def test_packet_dump_rows_of_sixteen_with_layers():
    packet = build_packet(parse_spec("eth/ipv4/udp/payload(hello)"))
    rows = packet_dump(packet, Marks(changed=frozenset({12})), layer_of_bytes(decode(packet), len(packet)))
    assert [r.label for r in rows] == ["0x0000", "0x0010", "0x0020"]
    assert rows[0].cells[12].changed and rows[0].cells[12].layer == "eth" and rows[0].cells[14].layer == "ipv4"
    folded = packet_dump(bytes(200), max_rows=2)
    assert isinstance(folded[-1], HexGap) and folded[-1].label == "0x0020 to 0x00c7"


# --- map tables -----------------------------------------------------------------------------------------------

def test_map_table_statuses():
    before = {"name": "m", "type": "hash", "key_size": 4, "value_size": 4, "max_entries": 4,
              "entries": {"01000000": "01000000", "02000000": "02000000", "03000000": "03000000"}}
    after = {**before, "entries": {"01000000": "01000000", "02000000": "09000000", "04000000": "04000000"}}
    table = mapview.table(after, before)
    assert [(r.key, r.status) for r in table.rows] == [("01 00 00 00", ""), ("02 00 00 00", "changed"),
                                                       ("04 00 00 00", "added"), ("03 00 00 00", "deleted")]
    assert table.rows[1].was == "02 00 00 00" and table.rows[1].cells[0].number == "9" and table.changes == 3
    assert mapview.table(after, None).changes == 0  # nothing to compare with


def test_records_new_and_consumed():
    ring = {"name": "r", "type": "ringbuf", "key_size": 0, "value_size": 0, "max_entries": 4096, "entries": {},
            "records": ["aa"], "pending": 0}
    table = mapview.table({**ring, "records": ["aa", "6869"]}, ring)
    assert [(r.hex, r.text, r.new) for r in table.records] == [("aa", ".", False), ("68 69", "hi", True)]
    queue = {**ring, "type": "queue", "records": None}
    del queue["records"]
    popped = mapview.table({**queue, "values": ["02"]}, {**queue, "values": ["01", "02"]})
    assert popped.changes == 1 and not any(r.new for r in popped.records)
    assert mapview.table({**queue, "values": []}, None).note == "The queue is empty."


# --- a run's states at every step -------------------------------------------------------------------------

def test_engine_trace_replays_writes():
    """The step view takes states from the engine's trace, which replays context writes too."""
    example = BY_SLUG["tc-rewrite"]
    result = run(assemble(example.source), prog_type="sched_cls", packet=build_packet(parse_spec(example.packets[0])),
                 trace=True)
    assert result.trace.state_at(3).region("ctx (__sk_buff)")[8] == 42
