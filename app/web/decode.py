"""Packet headers decoded for display: Ethernet, 802.1Q/802.1ad VLAN tags, IPv4, IPv6, TCP, UDP, ICMP and ICMPv6.

This is a viewer, not a parser the engine relies on: it reads as far as the bytes allow, never raises, and
stops at the first header it does not know or that is cut short (the rest is shown as payload). Checksums
are recomputed to say whether the one in the packet is right, which is what a learner rewriting a header
wants to know.

``decode(frame)`` starts at an Ethernet header; ``decode(data, first="ipv4", base=14)`` starts at an IP header
(what socket filters and cgroup_skb programs see) and labels offsets as if ``base`` bytes came first.
"""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

ETHERTYPE_NAMES = {0x0800: "IPv4", 0x86DD: "IPv6", 0x0806: "ARP", 0x8100: "802.1Q", 0x88A8: "802.1ad"}
IPPROTO_NAMES = {1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6"}
_NEXT_BY_ETHERTYPE = {0x0800: "ipv4", 0x86DD: "ipv6", 0x8100: "vlan", 0x88A8: "vlan"}
_NEXT_BY_PROTO = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}
_TCP_FLAGS = "FSRPAUEC"


@dataclass(frozen=True)
class HeaderField:
    """One decoded field: its ``name`` (``dst``, ``ttl``) and ``value`` as text (``10.0.0.2``, ``64``)."""

    name: str
    value: str


@dataclass(frozen=True)
class Header:
    """One header of a packet: ``layer`` (``eth``, ``vlan``, ``ipv4``, ``ipv6``, ``tcp``, ``udp``, ``icmp``,
    ``icmpv6``, ``payload``), a ``title`` (``IPv4``), its bytes ``start``..``end`` (offsets into the packet),
    a one-line ``summary`` and the ``fields`` in header order; ``problem`` says what is wrong with it (a
    wrong checksum, a header cut short), or is empty."""

    layer: str
    title: str
    start: int
    end: int
    summary: str
    fields: tuple[HeaderField, ...]
    problem: str = ""


def _mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _ones_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def _checksum_ok(data: bytes) -> bool:
    """A header or segment whose checksum field is included sums to 0xffff when the checksum is right."""
    return _ones_sum(data) == 0xFFFF


def decode(data: bytes, first: str = "eth", base: int = 0) -> tuple[Header, ...]:
    """The headers of ``data``, outermost first, then the payload (if any bytes are left)."""
    headers: list[Header] = []
    layer: str | None = first
    pos = 0
    pseudo: tuple[bytes, bytes, int] | None = None  # IP source, destination, protocol: for L4 checksums
    while layer is not None and pos < len(data):
        step = _DECODERS[layer](data, pos, pseudo)
        if step is None:
            break
        header, layer, pseudo = step
        headers.append(_shift(header, base))
        pos = header.end
    if pos < len(data):
        rest = data[pos:]
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in rest[:32])
        headers.append(_shift(Header("payload", "Payload", pos, len(data), f"{len(rest)} bytes: {text}"
                                     f"{'…' if len(rest) > 32 else ''}", ()), base))
    return tuple(headers)


def _shift(h: Header, base: int) -> Header:
    if not base:
        return h
    return Header(h.layer, h.title, h.start + base, h.end + base, h.summary, h.fields, h.problem)


def _short(layer: str, title: str, data: bytes, pos: int, need: int) -> Header:
    return Header(layer, title, pos, len(data), f"cut short: {len(data) - pos} of {need} bytes", (),
                  f"only {len(data) - pos} of the {need} bytes of a {title} header")


Step = tuple[Header, "str | None", "tuple[bytes, bytes, int] | None"] | None


def _eth(data: bytes, pos: int, pseudo) -> Step:
    if len(data) - pos < 14:
        return _short("eth", "Ethernet", data, pos, 14), None, None
    dst, src, etype = data[pos:pos + 6], data[pos + 6:pos + 12], int.from_bytes(data[pos + 12:pos + 14], "big")
    name = ETHERTYPE_NAMES.get(etype, "")
    fields = (HeaderField("dst", _mac(dst)), HeaderField("src", _mac(src)),
              HeaderField("type", f"0x{etype:04x}{f' ({name})' if name else ''}"))
    summary = f"{_mac(src)} → {_mac(dst)}, type 0x{etype:04x}{f' {name}' if name else ''}"
    return Header("eth", "Ethernet", pos, pos + 14, summary, fields), _NEXT_BY_ETHERTYPE.get(etype), None


def _vlan(data: bytes, pos: int, pseudo) -> Step:
    if len(data) - pos < 4:
        return _short("vlan", "VLAN", data, pos, 4), None, None
    tci, etype = struct.unpack_from("!HH", data, pos)
    name = ETHERTYPE_NAMES.get(etype, "")
    fields = (HeaderField("pcp", str(tci >> 13)), HeaderField("dei", str(tci >> 12 & 1)),
              HeaderField("vid", str(tci & 0xFFF)), HeaderField("type", f"0x{etype:04x}{f' ({name})' if name else ''}"))
    summary = f"VLAN {tci & 0xFFF}, priority {tci >> 13}, type 0x{etype:04x}{f' {name}' if name else ''}"
    return Header("vlan", "VLAN tag", pos, pos + 4, summary, fields), _NEXT_BY_ETHERTYPE.get(etype), None


def _ipv4(data: bytes, pos: int, pseudo) -> Step:
    if len(data) - pos < 20:
        return _short("ipv4", "IPv4", data, pos, 20), None, None
    vihl, tos, total, ident, frag, ttl, proto, csum = struct.unpack_from("!BBHHHBBH", data, pos)
    ihl = (vihl & 0xF) * 4
    src, dst = data[pos + 12:pos + 16], data[pos + 16:pos + 20]
    problem = ""
    if vihl >> 4 != 4:
        problem = f"version is {vihl >> 4}, not 4"
    elif ihl < 20 or pos + ihl > len(data):
        problem = f"header length {ihl} is not usable"
        ihl = 20
    elif not _checksum_ok(data[pos:pos + ihl]):
        problem = "wrong header checksum"
    flags = "+".join(n for bit, n in ((0x4000, "DF"), (0x2000, "MF")) if frag & bit) or "none"
    pname = IPPROTO_NAMES.get(proto, "")
    fields = (
        HeaderField("src", str(ipaddress.IPv4Address(src))), HeaderField("dst", str(ipaddress.IPv4Address(dst))),
        HeaderField("ihl", f"{ihl} bytes"), HeaderField("tos", f"0x{tos:02x}"), HeaderField("total length", str(total)),
        HeaderField("id", str(ident)), HeaderField("flags", flags), HeaderField("fragment offset", str(frag & 0x1FFF)),
        HeaderField("ttl", str(ttl)), HeaderField("protocol", f"{proto}{f' ({pname})' if pname else ''}"),
        HeaderField("checksum", f"0x{csum:04x}{' (wrong)' if problem == 'wrong header checksum' else ' (correct)'}"),
    )
    summary = f"{ipaddress.IPv4Address(src)} → {ipaddress.IPv4Address(dst)}, {pname or f'protocol {proto}'}, ttl {ttl}"
    nxt = _NEXT_BY_PROTO.get(proto) if not frag & 0x1FFF else None
    return Header("ipv4", "IPv4", pos, pos + ihl, summary, fields, problem), nxt, (src, dst, proto)


def _ipv6(data: bytes, pos: int, pseudo) -> Step:
    if len(data) - pos < 40:
        return _short("ipv6", "IPv6", data, pos, 40), None, None
    first, plen, nh, hlim = struct.unpack_from("!IHBB", data, pos)
    src, dst = data[pos + 8:pos + 24], data[pos + 24:pos + 40]
    pname = IPPROTO_NAMES.get(nh, "")
    fields = (
        HeaderField("src", str(ipaddress.IPv6Address(src))), HeaderField("dst", str(ipaddress.IPv6Address(dst))),
        HeaderField("traffic class", f"0x{first >> 20 & 0xFF:02x}"), HeaderField("flow label", f"0x{first & 0xFFFFF:05x}"),
        HeaderField("payload length", str(plen)), HeaderField("next header", f"{nh}{f' ({pname})' if pname else ''}"),
        HeaderField("hop limit", str(hlim)),
    )
    summary = f"{ipaddress.IPv6Address(src)} → {ipaddress.IPv6Address(dst)}, {pname or f'next header {nh}'}, hop limit {hlim}"
    problem = "" if first >> 28 == 6 else f"version is {first >> 28}, not 6"
    return Header("ipv6", "IPv6", pos, pos + 40, summary, fields, problem), _NEXT_BY_PROTO.get(nh), (src, dst, nh)


def _l4_checksum(data: bytes, pos: int, pseudo, proto: int) -> str:
    """Whether the TCP/UDP/ICMPv6 checksum over the pseudo-header and the rest of the packet is right."""
    if pseudo is None:
        return ""
    src, dst, _ = pseudo
    segment = data[pos:]
    if len(src) == 4:
        ph = src + dst + struct.pack("!BBH", 0, proto, len(segment))
    else:
        ph = src + dst + struct.pack("!I3xB", len(segment), proto)
    return "" if _checksum_ok(ph + segment) else "wrong checksum"


def _udp(data: bytes, pos: int, pseudo) -> Step:
    if len(data) - pos < 8:
        return _short("udp", "UDP", data, pos, 8), None, None
    sport, dport, length, csum = struct.unpack_from("!HHHH", data, pos)
    problem = "" if csum == 0 else _l4_checksum(data, pos, pseudo, 17)
    note = " (none)" if csum == 0 else (" (wrong)" if problem else " (correct)")
    fields = (HeaderField("sport", str(sport)), HeaderField("dport", str(dport)), HeaderField("length", str(length)),
              HeaderField("checksum", f"0x{csum:04x}{note}"))
    return Header("udp", "UDP", pos, pos + 8, f"port {sport} → {dport}, length {length}", fields, problem), None, None


def _tcp(data: bytes, pos: int, pseudo) -> Step:
    if len(data) - pos < 20:
        return _short("tcp", "TCP", data, pos, 20), None, None
    sport, dport, seq, ack, off, flag_bits, window, csum, urg = struct.unpack_from("!HHIIBBHHH", data, pos)
    doff = (off >> 4) * 4
    flags = "".join(c for i, c in enumerate(_TCP_FLAGS) if flag_bits >> i & 1) or "none"
    problem = _l4_checksum(data, pos, pseudo, 6)
    end = pos + doff if 20 <= doff and pos + doff <= len(data) else pos + 20
    fields = (HeaderField("sport", str(sport)), HeaderField("dport", str(dport)), HeaderField("seq", str(seq)),
              HeaderField("ack", str(ack)), HeaderField("data offset", f"{doff} bytes"), HeaderField("flags", flags),
              HeaderField("window", str(window)),
              HeaderField("checksum", f"0x{csum:04x}{' (wrong)' if problem else ' (correct)' if pseudo else ''}"),
              HeaderField("urgent", str(urg)))
    return Header("tcp", "TCP", pos, end, f"port {sport} → {dport}, flags {flags}, seq {seq}", fields, problem), \
        None, None


def _icmp(data: bytes, pos: int, pseudo, v6: bool = False) -> Step:
    layer, title = ("icmpv6", "ICMPv6") if v6 else ("icmp", "ICMP")
    if len(data) - pos < 8:
        return _short(layer, title, data, pos, 8), None, None
    kind, code, csum, ident, seq = struct.unpack_from("!BBHHH", data, pos)
    problem = _l4_checksum(data, pos, pseudo, 58) if v6 else ("" if _checksum_ok(data[pos:]) else "wrong checksum")
    names = {0: "echo reply", 8: "echo request", 3: "destination unreachable", 11: "time exceeded"} if not v6 else \
        {128: "echo request", 129: "echo reply", 1: "destination unreachable", 135: "neighbour solicitation"}
    name = names.get(kind, "")
    fields = (HeaderField("type", f"{kind}{f' ({name})' if name else ''}"), HeaderField("code", str(code)),
              HeaderField("checksum", f"0x{csum:04x}{' (wrong)' if problem else ' (correct)'}"),
              HeaderField("id", str(ident)), HeaderField("seq", str(seq)))
    return Header(layer, title, pos, pos + 8, f"{name or f'type {kind}'}, code {code}, id {ident}, seq {seq}",
                  fields, problem), None, None


_DECODERS = {"eth": _eth, "vlan": _vlan, "ipv4": _ipv4, "ipv6": _ipv6, "udp": _udp, "tcp": _tcp, "icmp": _icmp,
             "icmpv6": lambda d, p, ps: _icmp(d, p, ps, True)}


def summary(headers: tuple[Header, ...]) -> str:
    """One short line for a list of packets: ``IPv4 10.0.0.1 → 10.0.0.2 · UDP 12345 → 53 · 5 bytes``."""
    parts = []
    values = {h.layer: {f.name: f.value for f in h.fields} for h in headers}
    for h in headers:
        v = values[h.layer]
        if h.layer == "eth" and len(headers) == 1 or h.problem.startswith("only"):
            parts.append(f"{h.title} {h.summary}")
        elif h.layer == "vlan":
            parts.append(f"VLAN {v['vid']}")
        elif h.layer in ("ipv4", "ipv6"):
            parts.append(f"{h.title} {v['src']} → {v['dst']}")
        elif h.layer in ("tcp", "udp"):
            flags = f" [{v['flags']}]" if h.layer == "tcp" else ""
            parts.append(f"{h.title} {v['sport']} → {v['dport']}{flags}")
        elif h.layer in ("icmp", "icmpv6"):
            parts.append(f"{h.title} {v['type']}")
        elif h.layer == "payload":
            parts.append(f"{h.end - h.start} bytes")
        elif h.layer == "eth" and h.end - h.start == 14 and len(headers) > 1 and headers[1].layer == "payload":
            parts.append(f"type {v['type']}")
    return " · ".join(parts) or "empty"


def layer_of_bytes(headers: tuple[Header, ...], length: int, base: int = 0) -> list[str]:
    """For each byte offset ``base .. base + length``, the layer it belongs to ('' where no header covers it)."""
    out = [""] * length
    for h in headers:
        for i in range(max(h.start - base, 0), min(h.end - base, length)):
            out[i] = h.layer
    return out
