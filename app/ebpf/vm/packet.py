"""The buffer a networking program's packet lives in: headroom, metadata, data, tailroom.

One region holds the whole buffer (from the kernel's ``data_hard_start``), so that helpers can move
``data``, ``data_meta`` and ``data_end`` inside it the way ``bpf_xdp_adjust_head``/``_meta``/``_tail`` do.
The sizes follow ``BPF_PROG_TEST_RUN``: XDP frames are one 4 KiB page with ``XDP_PACKET_HEADROOM`` (256)
bytes before the packet and room for ``struct skb_shared_info`` (320 bytes) at the end; skbs get
``NET_SKB_PAD`` (64) bytes of headroom. The Ethernet header that non-L2 skb types do not see stays in the
buffer before ``data``.
"""
from __future__ import annotations

from dataclasses import dataclass

from .memory import PACKET_BASE, Region

XDP_PACKET_HEADROOM = 256
XDP_FRAME_SIZE = 4096
SKB_SHARED_INFO = 320  # SKB_DATA_ALIGN(sizeof(struct skb_shared_info)) on x86-64
XDP_FRAME_HEADER = 40  # sizeof(struct xdp_frame): adjust_head/meta cannot move data into it
NET_SKB_PAD = 64


@dataclass
class PacketBuffer:
    region: Region
    meta_off: int  # offsets into region.data
    data_off: int
    end_off: int
    hard_end_off: int  # how far data_end may grow (XDP: frame size minus skb_shared_info)

    @classmethod
    def for_xdp(cls, frame: bytes) -> "PacketBuffer":
        size = max(XDP_FRAME_SIZE, XDP_PACKET_HEADROOM + len(frame) + SKB_SHARED_INFO)
        data = bytearray(size)
        data[XDP_PACKET_HEADROOM:XDP_PACKET_HEADROOM + len(frame)] = frame
        region = Region("packet", PACKET_BASE - XDP_PACKET_HEADROOM, data)
        end = XDP_PACKET_HEADROOM + len(frame)
        return cls(region, XDP_PACKET_HEADROOM, XDP_PACKET_HEADROOM, end, size - SKB_SHARED_INFO)

    @classmethod
    def for_skb(cls, frame: bytes, data_offset: int) -> "PacketBuffer":
        data = bytearray(NET_SKB_PAD) + bytearray(frame) + bytearray(SKB_SHARED_INFO)
        region = Region("packet", PACKET_BASE - NET_SKB_PAD - data_offset, data)
        start = NET_SKB_PAD + data_offset
        return cls(region, start, start, NET_SKB_PAD + len(frame), len(data) - SKB_SHARED_INFO)

    @classmethod
    def raw(cls, data: bytes) -> "PacketBuffer":
        region = Region("packet", PACKET_BASE, bytearray(data))
        return cls(region, 0, 0, len(data), len(data))

    @property
    def data_addr(self) -> int:
        return self.region.base + self.data_off

    @property
    def end_addr(self) -> int:
        return self.region.base + self.end_off

    @property
    def meta_addr(self) -> int:
        return self.region.base + self.meta_off

    def data(self) -> bytes:
        return bytes(self.region.data[self.data_off:self.end_off])

    def __len__(self) -> int:
        return self.end_off - self.data_off

    def state(self) -> tuple[int, int, int, int]:
        return self.meta_off, self.data_off, self.end_off, self.hard_end_off

    def set_state(self, state: tuple[int, int, int, int]) -> None:
        self.meta_off, self.data_off, self.end_off, self.hard_end_off = state
