"""Building packets from named fields, decoding them for display, and reading pcap files.

A packet is a list of layers, outermost first, each a dict with ``"layer"`` and its fields::

    [{"layer": "eth", "dst": "ff:ff:ff:ff:ff:ff"}, {"layer": "vlan", "vid": 100},
     {"layer": "ipv4", "src": "10.0.0.1", "dst": "10.0.0.2"}, {"layer": "udp", "dport": 53},
     {"layer": "payload", "text": "hello"}]

Fields left out get sensible defaults; lengths, EtherTypes, protocol numbers and checksums (IPv4 header,
TCP/UDP/ICMPv6 over the pseudo-header, ICMP) are computed unless given. The same data in text form,
``eth/vlan(vid=100)/ipv4(dst=10.0.0.2)/udp(dport=53)/payload(hello)``, is what the CLI takes.
Bad input raises ``InputError`` naming the layer and field.
"""
from __future__ import annotations

import ipaddress
import re
import struct

from .errors import InputError

MAX_PACKET = 65535
ETHERTYPES = {"ipv4": 0x0800, "ipv6": 0x86DD, "arp": 0x0806, "vlan": 0x8100, "qinq": 0x88A8}
IPPROTO = {"icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}
TCP_FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80}

LAYER_FIELDS = {
    "eth": ("dst", "src", "type"),
    "vlan": ("vid", "pcp", "dei", "type", "tpid"),
    "ipv4": ("src", "dst", "ttl", "tos", "id", "flags", "frag", "proto", "ihl", "len", "checksum", "options"),
    "ipv6": ("src", "dst", "hlim", "tc", "flow", "nh", "plen"),
    "tcp": ("sport", "dport", "seq", "ack", "flags", "window", "urg", "checksum", "doff", "options"),
    "udp": ("sport", "dport", "len", "checksum"),
    "icmp": ("type", "code", "id", "seq", "checksum"),
    "icmpv6": ("type", "code", "id", "seq", "checksum"),
    "payload": ("hex", "text", "len"),
}


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071): one's complement of the one's-complement sum of 16-bit words."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _err(layer: str, field: str, message: str) -> InputError:
    return InputError(f"packet.{layer}.{field}" if field else f"packet.{layer}", message)


def _int(layer: dict, name: str, field: str, default: int, bits: int) -> int:
    value = layer.get(field, default)
    if isinstance(value, str):
        try:
            value = int(value, 0)
        except ValueError:
            raise _err(name, field, f"{value!r} is not a number") from None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < (1 << bits):
        raise _err(name, field, f"must be a number from 0 to {(1 << bits) - 1}")
    return value


def _mac(layer: dict, name: str, field: str, default: str) -> bytes:
    text = str(layer.get(field, default))
    if not re.fullmatch(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}", text):
        raise _err(name, field, f"{text!r} is not a MAC address like 02:00:00:00:00:01")
    return bytes.fromhex(text.replace(":", ""))


def _ip(layer: dict, name: str, field: str, default: str, version: int) -> bytes:
    text = str(layer.get(field, default))
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise _err(name, field, f"{text!r} is not an IPv{version} address") from None
    if addr.version != version:
        raise _err(name, field, f"{text!r} is not an IPv{version} address")
    return addr.packed


def _hexbytes(layer: dict, name: str, field: str) -> bytes:
    text = str(layer.get(field, ""))
    try:
        return bytes.fromhex("".join(text.split()))
    except ValueError:
        raise _err(name, field, "not hex bytes") from None


def build_packet(layers: list[dict]) -> bytes:
    """Bytes of the packet described by ``layers`` (see the module docstring)."""
    if not isinstance(layers, list) or not layers:
        raise InputError("packet", "a packet is a non-empty list of layers")
    names = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or layer.get("layer") not in LAYER_FIELDS:
            raise InputError(f"packet[{i}]", f"each layer needs \"layer\": one of {', '.join(LAYER_FIELDS)}")
        name = layer["layer"]
        unknown = set(layer) - {"layer"} - set(LAYER_FIELDS[name])
        if unknown:
            raise _err(name, sorted(unknown)[0], f"unknown field (known: {', '.join(LAYER_FIELDS[name])})")
        names.append(name)
    data = _build(layers, 0, None)
    if len(data) > MAX_PACKET:
        raise InputError("packet", f"{len(data)} bytes is more than {MAX_PACKET}")
    return data


def _build(layers: list[dict], i: int, pseudo: tuple | None) -> bytes:
    if i >= len(layers):
        return b""
    layer = layers[i]
    name = layer["layer"]
    nxt = layers[i + 1]["layer"] if i + 1 < len(layers) else None
    if name == "eth":
        body = _build(layers, i + 1, None)
        etype = _int(layer, name, "type", ETHERTYPES.get(nxt, 0x0800) if nxt != "vlan" else 0x8100, 16)
        if nxt == "vlan" and "type" not in layer:
            etype = _int(layers[i + 1], "vlan", "tpid", 0x8100, 16)
        return _mac(layer, name, "dst", "02:00:00:00:00:02") + _mac(layer, name, "src", "02:00:00:00:00:01") + \
            struct.pack("!H", etype) + body
    if name == "vlan":
        body = _build(layers, i + 1, None)
        tci = _int(layer, name, "pcp", 0, 3) << 13 | _int(layer, name, "dei", 0, 1) << 12 | \
            _int(layer, name, "vid", 0, 12)
        inner = ETHERTYPES.get(nxt, 0x0800)
        if nxt == "vlan":
            inner = _int(layers[i + 1], "vlan", "tpid", 0x8100, 16)
        return struct.pack("!HH", tci, _int(layer, name, "type", inner, 16)) + body
    if name == "ipv4":
        return _ipv4(layers, i, layer, nxt)
    if name == "ipv6":
        return _ipv6(layers, i, layer, nxt)
    if name in ("tcp", "udp", "icmp", "icmpv6"):
        return _l4(layers, i, layer, pseudo)
    if "hex" in layer and "text" in layer:
        raise _err(name, "text", "give hex or text, not both")
    payload = _hexbytes(layer, name, "hex") if "hex" in layer else str(layer.get("text", "")).encode()
    if "len" in layer:
        payload = payload.ljust(_int(layer, name, "len", 0, 16), b"\0")
    return payload + _build(layers, i + 1, None)


def _ipv4(layers: list[dict], i: int, layer: dict, nxt: str | None) -> bytes:
    name = "ipv4"
    src, dst = _ip(layer, name, "src", "10.0.0.1", 4), _ip(layer, name, "dst", "10.0.0.2", 4)
    proto = _int(layer, name, "proto", IPPROTO.get(nxt, 0), 8)
    options = _hexbytes(layer, name, "options")
    if len(options) % 4 or len(options) > 40:
        raise _err(name, "options", "options must be a multiple of 4 bytes, at most 40")
    ihl = _int(layer, name, "ihl", 5 + len(options) // 4, 4)
    body = _build(layers, i + 1, (src, dst, proto))
    total = _int(layer, name, "len", 20 + len(options) + len(body), 16)
    flags = layer.get("flags", "DF")
    flag_bits = {"": 0, "DF": 2, "MF": 1, "DF,MF": 3}.get(str(flags)) if isinstance(flags, str) else None
    if flag_bits is None:
        flag_bits = _int(layer, name, "flags", 0, 3)
    frag = flag_bits << 13 | _int(layer, name, "frag", 0, 13)
    header = struct.pack("!BBHHHBBH4s4s", 4 << 4 | ihl, _int(layer, name, "tos", 0, 8), total,
                         _int(layer, name, "id", 0, 16), frag, _int(layer, name, "ttl", 64, 8), proto, 0, src,
                         dst) + options
    csum = _int(layer, name, "checksum", checksum(header), 16)
    return header[:10] + struct.pack("!H", csum) + header[12:] + body


def _ipv6(layers: list[dict], i: int, layer: dict, nxt: str | None) -> bytes:
    name = "ipv6"
    src, dst = _ip(layer, name, "src", "fd00::1", 6), _ip(layer, name, "dst", "fd00::2", 6)
    nh = _int(layer, name, "nh", IPPROTO.get(nxt, 59), 8)
    body = _build(layers, i + 1, (src, dst, nh))
    first = 6 << 28 | _int(layer, name, "tc", 0, 8) << 20 | _int(layer, name, "flow", 0, 20)
    return struct.pack("!IHBB", first, _int(layer, name, "plen", len(body), 16), nh,
                       _int(layer, name, "hlim", 64, 8)) + src + dst + body


def _l4(layers: list[dict], i: int, layer: dict, pseudo: tuple | None) -> bytes:
    name = layer["layer"]
    body = _build(layers, i + 1, None)
    if name == "udp":
        length = _int(layer, name, "len", 8 + len(body), 16)
        header = struct.pack("!HHHH", _int(layer, name, "sport", 12345, 16), _int(layer, name, "dport", 53, 16),
                             length, 0)
        csum_at = 6
    elif name == "tcp":
        options = _hexbytes(layer, name, "options")
        if len(options) % 4 or len(options) > 40:
            raise _err(name, "options", "options must be a multiple of 4 bytes, at most 40")
        flags = layer.get("flags", "S")
        if isinstance(flags, str):
            bad = [c for c in flags if c not in TCP_FLAGS]
            if bad:
                raise _err(name, "flags", f"unknown flag {bad[0]!r} (F S R P A U E C)")
            bits = sum(TCP_FLAGS[c] for c in set(flags))
        else:
            bits = _int(layer, name, "flags", 0, 8)
        doff = _int(layer, name, "doff", 5 + len(options) // 4, 4)
        header = struct.pack("!HHIIBBHHH", _int(layer, name, "sport", 12345, 16), _int(layer, name, "dport", 80, 16),
                             _int(layer, name, "seq", 0, 32), _int(layer, name, "ack", 0, 32), doff << 4, bits,
                             _int(layer, name, "window", 65535, 16), 0, _int(layer, name, "urg", 0, 16)) + options
        csum_at = 16
    else:
        default_type = 8 if name == "icmp" else 128  # echo request
        header = struct.pack("!BBHHH", _int(layer, name, "type", default_type, 8), _int(layer, name, "code", 0, 8), 0,
                             _int(layer, name, "id", 1, 16), _int(layer, name, "seq", 1, 16))
        csum_at = 2
    segment = header + body
    if "checksum" in layer:
        csum = _int(layer, name, "checksum", 0, 16)
    elif name == "icmp":
        csum = checksum(segment)
    elif pseudo is None:
        raise _err(name, "", f"{name} needs an IP layer before it (or an explicit checksum)")
    else:
        src, dst, proto = pseudo
        if len(src) == 4:
            ph = src + dst + struct.pack("!BBH", 0, proto, len(segment))
        else:
            ph = src + dst + struct.pack("!I3xB", len(segment), proto)
        csum = checksum(ph + segment)
        if name == "udp" and csum == 0:
            csum = 0xFFFF  # a computed UDP checksum of 0 is sent as all ones
    return segment[:csum_at] + struct.pack("!H", csum) + segment[csum_at + 2:]


# --- text form -------------------------------------------------------------------------------------------

_TEXT_LAYER = re.compile(r"^(\w+)(?:\((.*)\))?$", re.S)


def parse_spec(text: str) -> list[dict]:
    """``eth/ipv4(dst=10.0.0.2)/tcp(dport=80,flags=SA)/payload(hello)`` -> layers."""
    layers = []
    for part in _split_top(text.strip(), "/"):
        m = _TEXT_LAYER.match(part.strip())
        if not m:
            raise InputError("packet", f"cannot read layer {part!r} (write name or name(field=value,...))")
        name, args = m.group(1), m.group(2)
        layer: dict = {"layer": name}
        if args:
            if name == "payload" and "=" not in args:
                layer["text"] = args
            else:
                for item in _split_top(args, ","):
                    key, eq, value = item.partition("=")
                    if not eq:
                        raise InputError(f"packet.{name}", f"expected field=value, got {item!r}")
                    layer[key.strip()] = value.strip()
        layers.append(layer)
    return layers


def _split_top(text: str, sep: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for c in text:
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        if c == sep and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += c
    out.append(cur)
    return out
