"""Packets for display: the input and output packet of a run, and the packet bytes at one step.

``BPF_PROG_TEST_RUN`` (and so the engine) hands back the packet after the run from its Ethernet header;
hooks that start at the network header (socket filters, cgroup_skb: ``ProgType.l2`` is false) get those
first 14 bytes back zeroed, so they are left out of the comparison and shown as such.
"""
from __future__ import annotations

from app.ebpf.progtypes import ETH_HLEN, ProgType
from app.ebpf.vm.memory import PACKET_BASE

from .contexts import PacketView
from .decode import Header, decode, layer_of_bytes
from .hexdump import NO_MARKS, Marks, legend, packet_dump

_FIRST_BY_ETHERTYPE = {0x0800: "ipv4", 0x86DD: "ipv6", 0x8100: "vlan", 0x88A8: "vlan"}


def _headers(data: bytes, frame: bytes, ptype: ProgType | None, zeroed: bool) -> tuple[Header, ...]:
    if not zeroed:
        return decode(data)
    first = _FIRST_BY_ETHERTYPE.get(int.from_bytes(frame[12:14], "big"), "")
    eth = Header("eth", "Ethernet (zeroed)", 0, min(ETH_HLEN, len(data)), "zeroed in the output of a test run", ())
    rest = decode(data[ETH_HLEN:], first, ETH_HLEN) if first else decode(data[ETH_HLEN:], "payload", ETH_HLEN)
    return (eth, *rest)


def view(id: str, title: str, data: bytes, *, before: bytes | None = None, frame: bytes | None = None,
         ptype: ProgType | None = None, zeroed: bool = False, notes: tuple[str, ...] = (),
         first_offset: int = 0) -> PacketView:
    """``data`` as a ``PacketView``; bytes that differ from ``before`` (same length) are marked changed.
    ``zeroed`` says the first 14 bytes are the zeroed Ethernet header of a non-L2 test run (``frame``, the
    input, tells what follows it)."""
    headers = _headers(data, frame if frame is not None else data, ptype, zeroed)
    changed: frozenset[int] = frozenset()
    notes = list(notes)
    if before is not None:
        if len(before) == len(data):
            skip = ETH_HLEN if zeroed else 0
            changed = frozenset(i for i in range(skip, len(data)) if data[i] != before[i])
        else:
            notes.append(f"The length changed from {len(before)} to {len(data)} bytes, so no bytes are marked.")
    rows = packet_dump(data, Marks(differs=changed), layer_of_bytes(headers, len(data)), first_offset=first_offset)
    return PacketView(id, title, len(data), rows, headers, len(changed), tuple(notes))


def input_and_output(frame: bytes, out: bytes | None, ptype: ProgType) -> tuple[PacketView, PacketView | None]:
    """The run's input packet and its output packet, with the bytes the run changed marked."""
    packet_in = view("packet-in", "Input packet", frame)
    if out is None:
        return packet_in, None
    notes = []
    zeroed = not ptype.l2 and len(out) >= ETH_HLEN
    if zeroed:
        notes.append(f"{ptype.name} programs start at the network header: BPF_PROG_TEST_RUN returns the "
                     f"packet with its {ETH_HLEN}-byte Ethernet header zeroed, and those bytes are not compared.")
    return packet_in, view("packet-out", "Output packet", out, before=frame, frame=frame, ptype=ptype, zeroed=zeroed,
                           notes=tuple(notes))


def at_step(region_base: int, region: bytes, frame: bytes, ptype: ProgType, marks: Marks = NO_MARKS) -> PacketView:
    """The packet buffer at one step, from the frame's first byte for as many bytes as the input had.

    ``region_base`` and ``region`` are the engine's ``packet`` region (headroom, packet, tailroom); ``marks``
    holds offsets into the region: what the last step and the run so far wrote and read.
    """
    data_at = PACKET_BASE - region_base  # where ``data`` pointed when the run started
    start = max(data_at - (0 if ptype.l2 else ETH_HLEN), 0)
    data = region[start:start + len(frame)]
    shown = marks.window(start, len(data))
    notes = [f"The packet buffer has {data_at} bytes of headroom before the packet and room after it; only the "
             f"{len(frame)} bytes of the packet are shown."]
    if not ptype.l2:
        notes.append(f"data points at 0x{ETH_HLEN:04x}: {ptype.name} programs do not see the Ethernet header.")
    headers = decode(data)
    rows = packet_dump(data, shown, layer_of_bytes(headers, len(data)))
    return PacketView("packet-now", "Packet", len(data), rows, headers, len(shown.changed), tuple(notes),
                      len(shown.read), legend(rows))
