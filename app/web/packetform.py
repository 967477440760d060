"""The packet builder's form: which fields it has, and how what a user typed becomes packets for the engine.

Packets come from one of four sources (``packet_from``):

``fields``
    a layer-by-layer form: Ethernet, an optional VLAN tag, IPv4 or IPv6 (or nothing), UDP, TCP or ICMP
    (or nothing), and a text payload. Blank fields take the engine's defaults, shown as placeholders;
    lengths, protocol numbers and checksums are computed by the engine (``app.ebpf.packets.build_packet``).
``spec``
    the engine's text form, one packet per line: ``eth/ipv4(dst=10.0.0.2)/udp(dport=53)/payload(hi)``.
``hex``
    bytes from the Ethernet header, one packet per line.
``pcap``
    a pcap or pcapng upload; once read, its packets are carried on as ``hex`` lines (``forms.py``).

Several packets (lines, or a capture) run one after another on the same maps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from app.ebpf import InputError
from app.ebpf.packets import build_packet, parse_spec

from .inputs import FieldError, Limits, parse_hex

SOURCES = ("fields", "spec", "hex", "pcap")
L3_CHOICES = ("ipv4", "ipv6", "none")
L4_CHOICES = ("udp", "tcp", "icmp", "none")


@dataclass(frozen=True)
class LayerField:
    """A text field of the layer form: its form ``name`` (also the element id), the engine ``layer`` and
    ``field`` it sets (``ipv6``/``icmpv6`` use ``field6``), its ``label``, the ``placeholder`` shown when blank
    (the engine's default; ``placeholder6`` over IPv6 where it differs) and a ``hint``."""

    name: str
    layer: str
    field: str
    label: str
    placeholder: str
    hint: str = ""
    field6: str = ""
    placeholder6: str = ""


ETH_FIELDS = (
    LayerField("eth_dst", "eth", "dst", "Destination MAC", "02:00:00:00:00:02"),
    LayerField("eth_src", "eth", "src", "Source MAC", "02:00:00:00:00:01"),
)
VLAN_FIELDS = (
    LayerField("vlan_vid", "vlan", "vid", "VLAN id", "0", "0 to 4095"),
    LayerField("vlan_pcp", "vlan", "pcp", "Priority", "0", "0 to 7"),
)
IP_FIELDS = (
    LayerField("ip_src", "ip", "src", "Source address", "10.0.0.1", placeholder6="fd00::1"),
    LayerField("ip_dst", "ip", "dst", "Destination address", "10.0.0.2", placeholder6="fd00::2"),
    LayerField("ip_ttl", "ip", "ttl", "TTL", "64", field6="hlim"),
)
PORT_FIELDS = (
    LayerField("sport", "l4", "sport", "Source port", "12345"),
    LayerField("dport", "l4", "dport", "Destination port", "53 (UDP), 80 (TCP)"),
)
TCP_FIELDS = (LayerField("tcp_flags", "tcp", "flags", "TCP flags", "S", "letters: F S R P A U E C"),)
ICMP_FIELDS = (
    LayerField("icmp_type", "icmp", "type", "ICMP type", "8 (echo request)", placeholder6="128 (echo request)"),
    LayerField("icmp_code", "icmp", "code", "ICMP code", "0"),
)
PAYLOAD_FIELD = LayerField("payload", "payload", "text", "Payload", "(none)", "text, sent as UTF-8")

ALL_FIELDS = ETH_FIELDS + VLAN_FIELDS + IP_FIELDS + PORT_FIELDS + TCP_FIELDS + ICMP_FIELDS + (PAYLOAD_FIELD,)
CHOICE_NAMES = ("vlan", "l3", "l4")
FORM_NAMES = CHOICE_NAMES + tuple(f.name for f in ALL_FIELDS)
"""Every form field of the layer form, for ``RunForm`` to collect."""

DEFAULT_CHOICES = {"vlan": "", "l3": "ipv4", "l4": "udp"}
DEFAULT_VALUES = {"payload": "hello"}
"""What a fresh builder holds: Ethernet, IPv4, UDP to port 53 with the payload ``hello``."""

_BY_ENGINE: dict[tuple[str, str], str] = {}
for _f in ALL_FIELDS:
    for _layer in {"ip": ("ipv4", "ipv6"), "l4": ("udp", "tcp"), "icmp": ("icmp", "icmpv6")}.get(_f.layer, (_f.layer,)):
        _BY_ENGINE[(_layer, _f.field6 if _layer in ("ipv6",) and _f.field6 else _f.field)] = _f.name


def form_field_of(engine_field: str) -> str | None:
    """The layer form's field for an engine error field (``packet.ipv4.src`` -> ``ip_src``), if there is one."""
    parts = engine_field.split(".")
    if len(parts) == 3 and parts[0] == "packet":
        return _BY_ENGINE.get((parts[1], parts[2]))
    return None


def choice(values: Mapping[str, str], name: str) -> str:
    value = values.get(name, DEFAULT_CHOICES[name])
    allowed = {"vlan": ("", "on"), "l3": L3_CHOICES, "l4": L4_CHOICES}[name]
    return value if value in allowed else DEFAULT_CHOICES[name]


def layers_of(values: Mapping[str, str]) -> list[dict]:
    """The engine's layer list for the layer form's ``values`` (blank fields left out: engine defaults)."""
    def put(layer: dict, fields: tuple[LayerField, ...], v6: bool = False) -> dict:
        for f in fields:
            text = values.get(f.name, "").strip()
            if text:
                layer[f.field6 if v6 and f.field6 else f.field] = text
        return layer

    layers = [put({"layer": "eth"}, ETH_FIELDS)]
    if choice(values, "vlan"):
        layers.append(put({"layer": "vlan"}, VLAN_FIELDS))
    l3, l4 = choice(values, "l3"), choice(values, "l4")
    if l3 != "none":
        layers.append(put({"layer": l3}, IP_FIELDS, l3 == "ipv6"))
    if l4 in ("udp", "tcp"):
        layers.append(put({"layer": l4}, PORT_FIELDS + (TCP_FIELDS if l4 == "tcp" else ())))
    elif l4 == "icmp":
        layers.append(put({"layer": "icmpv6" if l3 == "ipv6" else "icmp"}, ICMP_FIELDS))
    payload = values.get("payload", "")
    if payload:
        layers.append({"layer": "payload", "text": payload})
    return layers


def build_from_fields(values: Mapping[str, str]) -> bytes:
    """One packet from the layer form; raises FieldError naming the form field (or ``packet``)."""
    try:
        return build_packet(layers_of(values))
    except InputError as e:
        raise FieldError(form_field_of(e.field) or "packet", e.message) from None


def build_from_specs(text: str) -> list[bytes]:
    """One packet per non-blank line of spec text; errors name the line."""
    packets = []
    lines = [line for line in text.splitlines() if line.strip()]
    for n, line in enumerate(lines, 1):
        where = f"line {n}: " if len(lines) > 1 else ""
        try:
            packets.append(build_packet(parse_spec(line)))
        except InputError as e:
            field = e.field.removeprefix("packet").lstrip(".")
            raise FieldError("packet_spec", f"{where}{field + ': ' if field else ''}{e.message}") from None
    if not packets:
        raise FieldError("packet_spec", "write a packet, e.g. eth/ipv4(dst=10.0.0.2)/udp(dport=53)/payload(hi)")
    return packets


def parse_hex_lines(text: str, limits: Limits) -> list[bytes]:
    """One packet per non-blank line of hex."""
    lines = [line for line in text.splitlines() if line.strip()]
    packets = []
    for n, line in enumerate(lines, 1):
        try:
            packets.append(parse_hex("packets", line, limits.input_bytes))
        except FieldError as e:
            raise FieldError("packets", f"{f'line {n}: ' if len(lines) > 1 else ''}{e.message}") from None
    if not packets:
        raise FieldError("packets", "give a packet as hex, from its Ethernet header")
    return packets


def check_packets(field: str, packets: list[bytes], limits: Limits) -> list[bytes]:
    """The request limits on a list of packets: how many, and how many bytes in all and each."""
    if len(packets) > limits.packets:
        raise FieldError(field, f"{len(packets)} packets; at most {limits.packets} can run in one request")
    for n, p in enumerate(packets, 1):
        if len(p) > limits.input_bytes:
            raise FieldError(field, f"packet {n} is {len(p):,} bytes; at most {limits.input_bytes:,} are allowed")
    total = sum(map(len, packets))
    if total > limits.packet_bytes:
        raise FieldError(field, f"the packets add up to {total:,} bytes; at most {limits.packet_bytes:,} are allowed")
    return packets
