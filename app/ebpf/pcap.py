"""Reading packets from pcap and pcapng files (the formats tcpdump and Wireshark write).

Only what a playground input needs: the captured bytes of each packet, in order, for Ethernet link types.
Limits keep a hostile file from costing much: at most ``max_packets`` packets and ``max_bytes`` in all.
"""
from __future__ import annotations

import struct

from .errors import InputError

LINKTYPE_ETHERNET = 1


def read_pcap(data: bytes, *, max_packets: int = 1000, max_bytes: int = 1 << 20) -> list[bytes]:
    if len(data) < 4:
        raise InputError("pcap", "the file is too short to be a capture")
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        packets = _pcapng(data, max_packets)
    elif magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        packets = _pcap(data, max_packets)
    else:
        raise InputError("pcap", "not a pcap or pcapng file (unknown magic number)")
    if sum(len(p) for p in packets) > max_bytes:
        raise InputError("pcap", f"the packets add up to more than {max_bytes} bytes")
    return packets


def _pcap(data: bytes, max_packets: int) -> list[bytes]:
    endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    if len(data) < 24:
        raise InputError("pcap", "truncated file header")
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    if linktype != LINKTYPE_ETHERNET:
        raise InputError("pcap", f"link type {linktype} is not Ethernet (1)")
    out, pos = [], 24
    while pos < len(data):
        if pos + 16 > len(data):
            raise InputError("pcap", f"truncated record header at byte {pos}")
        incl = struct.unpack_from(endian + "I", data, pos + 8)[0]
        if pos + 16 + incl > len(data):
            raise InputError("pcap", f"packet {len(out) + 1} is truncated")
        out.append(bytes(data[pos + 16:pos + 16 + incl]))
        pos += 16 + incl
        if len(out) > max_packets:
            raise InputError("pcap", f"more than {max_packets} packets")
    return out


def _pcapng(data: bytes, max_packets: int) -> list[bytes]:
    out, pos = [], 0
    endian = "<"
    linktypes: list[int] = []
    while pos + 12 <= len(data):
        btype = struct.unpack_from(endian + "I", data, pos)[0]
        if btype == 0x0A0D0D0A:  # section header: learn the byte order
            endian = "<" if data[pos + 8:pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            linktypes = []
        blen = struct.unpack_from(endian + "I", data, pos + 4)[0]
        if blen < 12 or pos + blen > len(data) or blen % 4:
            raise InputError("pcap", f"bad block length at byte {pos}")
        body = data[pos + 8:pos + blen - 4]
        if btype == 1:  # interface description
            linktypes.append(struct.unpack_from(endian + "H", body, 0)[0])
        elif btype == 6:  # enhanced packet
            iface, _, _, caplen = struct.unpack_from(endian + "IIII", body, 0)
            if iface >= len(linktypes) or linktypes[iface] != LINKTYPE_ETHERNET:
                raise InputError("pcap", f"packet {len(out) + 1} is not on an Ethernet interface")
            if 20 + caplen > len(body):
                raise InputError("pcap", f"packet {len(out) + 1} is truncated")
            out.append(bytes(body[20:20 + caplen]))
        elif btype == 3:  # simple packet
            out.append(bytes(body[4:]))
        pos += blen
        if len(out) > max_packets:
            raise InputError("pcap", f"more than {max_packets} packets")
    return out
