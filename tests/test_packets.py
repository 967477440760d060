"""Packet building (fields, defaults, checksums), the text form, and pcap files."""
from __future__ import annotations

import struct

import pytest

from app.ebpf.errors import InputError
from app.ebpf.packets import build_packet, checksum, parse_spec
from app.ebpf.pcap import read_pcap


def test_ipv4_udp_with_checksums():
    pkt = build_packet(parse_spec("eth(dst=ff:ff:ff:ff:ff:ff)/ipv4(src=192.168.0.1,dst=192.168.0.255)/"
                                  "udp(sport=12345,dport=53)/payload(hello)"))
    assert pkt[:6] == b"\xff" * 6 and pkt[12:14] == b"\x08\x00"
    ip = pkt[14:34]
    assert checksum(ip) == 0  # a header with its checksum sums to all ones
    assert struct.unpack("!H", ip[2:4])[0] == 20 + 8 + 5 and ip[9] == 17
    udp = pkt[34:]
    pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, len(udp))
    assert checksum(pseudo + udp) == 0 and udp[8:] == b"hello"


def test_rfc1071_example():
    assert checksum(bytes.fromhex("0001f203f4f5f6f7")) == ~0xDDF2 & 0xFFFF


def test_tcp_over_ipv6_and_vlan():
    pkt = build_packet([{"layer": "eth"}, {"layer": "vlan", "vid": 100, "pcp": 5},
                        {"layer": "ipv6", "src": "fd00::1", "dst": "fd00::2"},
                        {"layer": "tcp", "dport": 443, "flags": "SA", "seq": 7}])
    assert pkt[12:14] == b"\x81\x00" and pkt[14:16] == struct.pack("!H", 5 << 13 | 100) and pkt[16:18] == b"\x86\xdd"
    ip6, tcp = pkt[18:58], pkt[58:]
    assert ip6[6] == 6 and struct.unpack("!H", ip6[4:6])[0] == len(tcp) == 20
    assert tcp[13] == 0x12
    pseudo = ip6[8:40] + struct.pack("!I3xB", len(tcp), 6)
    assert checksum(pseudo + tcp) == 0


def test_icmp_echo():
    pkt = build_packet(parse_spec("eth/ipv4/icmp(id=7,seq=9)/payload(ping)"))
    icmp = pkt[34:]
    assert icmp[0] == 8 and checksum(icmp) == 0


def test_explicit_values_are_kept():
    pkt = build_packet(parse_spec("eth(type=0x1234)/payload(hex=0102)"))
    assert pkt[12:] == bytes.fromhex("12340102")
    bad = build_packet(parse_spec("eth/ipv4(checksum=0)/udp(checksum=0)"))
    assert bad[24:26] == b"\0\0" and bad[40:42] == b"\0\0"


@pytest.mark.parametrize("spec, field", [
    ("eth(dst=nope)", "packet.eth.dst"),
    ("eth/ipv4(src=300.1.1.1)", "packet.ipv4.src"),
    ("eth/ipv4(ttl=256)", "packet.ipv4.ttl"),
    ("eth/ipv4/tcp(flags=SX)", "packet.tcp.flags"),
    ("eth/ipv4/udp(color=red)", "packet.udp.color"),
    ("eth/bogus", "packet[1]"),
    ("eth/udp", "packet.udp"),
])
def test_errors_name_the_field(spec, field):
    with pytest.raises(InputError) as e:
        build_packet(parse_spec(spec))
    assert e.value.field == field


def pcap_file(packets, big_endian=False):
    e = ">" if big_endian else "<"
    out = struct.pack(e + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, p in enumerate(packets):
        out += struct.pack(e + "IIII", i, 0, len(p), len(p)) + p
    return out


def test_pcap_both_byte_orders():
    pkts = [bytes(range(60)), b"\xaa" * 14]
    assert read_pcap(pcap_file(pkts)) == pkts
    assert read_pcap(pcap_file(pkts, big_endian=True)) == pkts


def test_pcapng():
    def block(btype, body):
        body += bytes(-len(body) % 4)
        n = len(body) + 12
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    data = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)) + block(1, struct.pack("<HHI", 1, 0, 0))
    data += block(6, struct.pack("<IIIII", 0, 0, 0, 5, 5) + b"hello")
    assert read_pcap(data) == [b"hello"]


@pytest.mark.parametrize("data", [b"", b"\x00" * 30, pcap_file([b"x" * 20])[:-5]])
def test_bad_pcaps_are_refused(data):
    with pytest.raises(InputError):
        read_pcap(data)


def test_skb_test_runs_take_the_protocol_as_eth_type_trans_sets_it_and_refuse_cut_headers():
    """Values recorded from the kernel's test runs (tests/test_kernel_progtypes.py compares them live)."""
    from app.ebpf import assemble
    from app.ebpf.errors import InputError
    from app.ebpf.vm import run

    protocol = assemble("r0 = *(u32 *)(r1 + 16)\nexit")
    expected = {b"\x08\x06": 0x0608, b"\x00\x08" + b"\xff\xff": 0x0100, b"\x00\x08": 0x0400}
    for tail, value in expected.items():
        assert run(protocol, prog_type="socket_filter", packet=bytes(12) + tail).retval == value
    for ether_type, header in ((b"\x08\x00", 20), (b"\x86\xdd", 40)):
        assert run(protocol, prog_type="sched_cls", packet=bytes(12) + ether_type + bytes(header)).retval
        with pytest.raises(InputError, match="refuses it"):
            run(protocol, prog_type="sched_cls", packet=bytes(12) + ether_type + bytes(header - 1))
        assert run(assemble("r0 = 2\nexit"), prog_type="xdp", packet=bytes(12) + ether_type).retval == 2
