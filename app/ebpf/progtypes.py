"""The program-type table: context layouts, which context accesses are valid, return codes, and how a
run's input is laid out, for each hook.

Context access rules mirror the kernel's ``*_is_valid_access`` functions in ``net/core/filter.c``
(``bpf_skb_is_valid_access``, ``sk_filter_is_valid_access``, ``tc_cls_act_is_valid_access``,
``cg_skb_is_valid_access``, ``xdp_is_valid_access``); the verifier applies them when it checks a program,
and the VM applies the same functions at run time (a disallowed access faults with the kernel's message,
``invalid bpf_context access off=X size=Y``). Loads of ``data``/``data_end``/``data_meta`` give packet
pointers, as the kernel's ``convert_ctx_access`` rewrites them to.

Inputs follow ``BPF_PROG_TEST_RUN`` (``net/bpf/test_run.c``), so that runs here and in the kernel can be
compared: skb programs get a packet of at least 14 bytes that ``eth_type_trans()`` inspects on the loopback
device; for types that are not L2 (socket filters, cgroup_skb) ``data`` starts after the Ethernet header
and the output packet has its first 14 bytes zeroed.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Callable

from .errors import InputError

ETH_HLEN = 14
XDP_PACKET_HEADROOM = 256


@dataclass(frozen=True)
class CtxField:
    """One field of a context struct. ``kind`` is ``value`` or the pointer a load yields: ``pkt``,
    ``pkt_end``, ``pkt_meta``, ``sock`` (an 8-byte pointer the playground cannot follow)."""

    name: str
    offset: int
    size: int
    kind: str = "value"
    doc: str = ""

    @property
    def end(self) -> int:
        return self.offset + self.size


def _fields(*spec: tuple) -> tuple[CtxField, ...]:
    return tuple(CtxField(*s) for s in spec)


SK_BUFF = _fields(
    ("len", 0, 4, "value", "packet length in bytes"),
    ("pkt_type", 4, 4, "value", "PACKET_HOST 0, BROADCAST 1, MULTICAST 2, OTHERHOST 3"),
    ("mark", 8, 4, "value", "firewall mark"),
    ("queue_mapping", 12, 4),
    ("protocol", 16, 4, "value", "EtherType in network byte order"),
    ("vlan_present", 20, 4),
    ("vlan_tci", 24, 4),
    ("vlan_proto", 28, 4),
    ("priority", 32, 4),
    ("ingress_ifindex", 36, 4),
    ("ifindex", 40, 4),
    ("tc_index", 44, 4),
    ("cb", 48, 20, "value", "five u32 of scratch space shared between programs"),
    ("hash", 68, 4),
    ("tc_classid", 72, 4),
    ("data", 76, 4, "pkt", "start of the packet (a 4-byte load gives a packet pointer)"),
    ("data_end", 80, 4, "pkt_end", "end of the packet"),
    ("napi_id", 84, 4),
    ("family", 88, 4),
    ("remote_ip4", 92, 4),
    ("local_ip4", 96, 4),
    ("remote_ip6", 100, 16),
    ("local_ip6", 116, 16),
    ("remote_port", 132, 4),
    ("local_port", 136, 4),
    ("data_meta", 140, 4, "pkt_meta", "start of the metadata area before data"),
    ("flow_keys", 144, 8, "flow_keys"),
    ("tstamp", 152, 8),
    ("wire_len", 160, 4),
    ("gso_segs", 164, 4),
    ("sk", 168, 8, "sock", "the socket, or NULL"),
    ("gso_size", 176, 4),
    ("tstamp_type", 180, 1),
    ("hwtstamp", 184, 8),
)
SK_BUFF_SIZE = 192

XDP_MD = _fields(
    ("data", 0, 4, "pkt", "start of the packet"),
    ("data_end", 4, 4, "pkt_end", "end of the packet"),
    ("data_meta", 8, 4, "pkt_meta", "start of the metadata area before data"),
    ("ingress_ifindex", 12, 4),
    ("rx_queue_index", 16, 4),
    ("egress_ifindex", 20, 4, "value", "only for programs attached to a devmap"),
)
XDP_MD_SIZE = 24


def field_at(fields: tuple[CtxField, ...], off: int) -> CtxField | None:
    for f in fields:
        if f.offset <= off < f.end:
            return f
    return None


# --- access rules, one function per kernel function --------------------------------------------------------

def _in(f: CtxField | None, *names: str) -> bool:
    return f is not None and f.name in names


def bpf_skb_is_valid_access(off: int, size: int, write: bool) -> bool:
    """Rules common to every ``__sk_buff`` program (kernel: ``bpf_skb_is_valid_access``)."""
    if off < 0 or off >= SK_BUFF_SIZE or off % size != 0:
        return False
    f = field_at(SK_BUFF, off)
    if f is None or f.name == "tstamp_type" or 181 <= off < 184:
        return False
    if f.name == "cb":
        return off + size <= f.end
    if f.name in ("remote_ip6", "local_ip6", "remote_ip4", "local_ip4", "data", "data_meta", "data_end"):
        return size == 4
    if f.name == "flow_keys":
        return False
    if f.name in ("hwtstamp", "sk"):
        return not write and size == 8
    if f.name == "tstamp":
        return size == 8
    if write:
        return size == 4
    return size <= 4 and size & (size - 1) == 0  # bpf_ctx_narrow_access_ok


def sk_filter_is_valid_access(off: int, size: int, write: bool) -> bool:
    f = field_at(SK_BUFF, off)
    if _in(f, "tc_classid", "data", "data_meta", "data_end", "family", "remote_ip4", "local_ip4", "remote_ip6",
           "local_ip6", "remote_port", "local_port", "tstamp", "wire_len", "hwtstamp"):
        return False
    if write and not _in(f, "cb"):
        return False
    return bpf_skb_is_valid_access(off, size, write)


def tc_cls_act_is_valid_access(off: int, size: int, write: bool) -> bool:
    f = field_at(SK_BUFF, off)
    if write and not _in(f, "mark", "tc_index", "priority", "tc_classid", "cb", "tstamp", "queue_mapping"):
        return False
    if _in(f, "family", "remote_ip4", "local_ip4", "remote_ip6", "local_ip6", "remote_port", "local_port"):
        return False
    if _in(f, "tstamp_type"):
        return size == 1  # readable as a u8 by tc programs only
    return bpf_skb_is_valid_access(off, size, write)


def cg_skb_is_valid_access(off: int, size: int, write: bool) -> bool:
    f = field_at(SK_BUFF, off)
    if _in(f, "tc_classid", "data_meta", "wire_len"):
        return False
    if write and not _in(f, "mark", "priority", "cb", "tstamp"):
        return False
    return bpf_skb_is_valid_access(off, size, write)


def cg_skb_needs_cap_bpf(off: int, write: bool) -> bool:
    """``cg_skb_is_valid_access``: ``data`` and ``data_end`` (direct packet access), and writes of ``tstamp``, only
    for a loader with CAP_BPF."""
    f = field_at(SK_BUFF, off)
    return _in(f, "data", "data_end") or (write and _in(f, "tstamp"))


def xdp_is_valid_access(off: int, size: int, write: bool) -> bool:
    """``xdp_is_valid_access`` for programs not attached to a devmap (``egress_ifindex`` is refused)."""
    if write or off == 20:
        return False
    return 0 <= off < XDP_MD_SIZE and off % size == 0 and size == 4


PT_REGS = _fields(*((name, i * 8, 8) for i, name in enumerate(
    ("r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax",
     "ip", "cs", "flags", "sp", "ss"))))
PT_REGS_SIZE = 168
PT_REGS_ALIASES = {"arg1": "di", "arg2": "si", "arg3": "dx", "arg4": "cx", "arg5": "r8", "ret": "ax",
                   "rc": "ax", "pc": "ip", "rip": "ip", "rsp": "sp", "rax": "ax", "rdi": "di", "rsi": "si",
                   "rdx": "dx", "rcx": "cx", "rbx": "bx", "rbp": "bp"}
"""x86-64 PT_REGS_PARM1..5 are di, si, dx, cx, r8; PT_REGS_RC is ax (what libbpf's bpf_tracing.h uses)."""

PERF_EVENT_DATA = PT_REGS + _fields(("sample_period", 168, 8), ("addr", 176, 8))
PERF_EVENT_DATA_SIZE = 184

RAW_TP_ARGS = _fields(*((f"args{i}", i * 8, 8) for i in range(12)))
RAW_TP_ARGS_SIZE = 96  # MAX_BPF_FUNC_ARGS u64 arguments

TRACEPOINT_CTX_SIZE = 8192  # PERF_MAX_TRACE_SIZE: reads anywhere below it are allowed

SOCK_ADDR = _fields(
    ("user_family", 0, 4, "value", "AF_INET 2"),
    ("user_ip4", 4, 4, "value", "destination address, network byte order"),
    ("user_ip6", 8, 16),
    ("user_port", 24, 4, "value", "destination port, network byte order in the low 16 bits"),
    ("family", 28, 4),
    ("type", 32, 4, "value", "SOCK_STREAM 1, SOCK_DGRAM 2"),
    ("protocol", 36, 4, "value", "IPPROTO_TCP 6, IPPROTO_UDP 17"),
    ("msg_src_ip4", 40, 4),
    ("msg_src_ip6", 44, 16),
    ("sk", 64, 8, "sock", "the socket"),
)
SOCK_ADDR_SIZE = 72


def kprobe_prog_is_valid_access(off: int, size: int, write: bool) -> bool:
    """``kprobe_prog_is_valid_access``: any aligned read inside pt_regs."""
    return not write and 0 <= off and off + size <= PT_REGS_SIZE and off % size == 0


def pe_prog_is_valid_access(off: int, size: int, write: bool) -> bool:
    """``pe_prog_is_valid_access``: registers as whole u64; sample_period and addr also narrower."""
    if write or off < 0 or off >= PERF_EVENT_DATA_SIZE or off % size:
        return False
    if off >= PT_REGS_SIZE:
        return size <= 8 and size & (size - 1) == 0
    return size == 8


def raw_tp_prog_is_valid_access(off: int, size: int, write: bool) -> bool:
    return not write and 0 <= off < RAW_TP_ARGS_SIZE and off % size == 0


def tp_prog_is_valid_access(off: int, size: int, write: bool) -> bool:
    """``tp_prog_is_valid_access``: reads past the first 8 bytes (the common header stays hidden)."""
    return not write and 8 <= off < TRACEPOINT_CTX_SIZE and off % size == 0


def sock_addr_is_valid_access(off: int, size: int, write: bool) -> bool:
    """``sock_addr_is_valid_access`` for the ``cgroup/connect4`` attach type (BPF_CGROUP_INET4_CONNECT)."""
    if off < 0 or off >= SOCK_ADDR_SIZE or off % size:
        return False
    f = field_at(SOCK_ADDR, off)
    if f is None or f.name in ("user_ip6", "msg_src_ip4", "msg_src_ip6"):
        return False  # IPv6 fields in an IPv4 hook; msg_src_* only in sendmsg hooks
    if f.name in ("user_ip4", "user_port"):
        if write:
            return size == 4
        return size <= 4 and size & (size - 1) == 0
    if f.name == "sk":
        return not write and size == 8
    return not write and size == 4


# --- the table ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProgType:
    name: str
    kernel_id: int  # enum bpf_prog_type
    section: str  # libbpf section name
    ctx_struct: str
    ctx_size: int
    fields: tuple[CtxField, ...]
    is_valid_access: Callable[[int, int, bool], bool]
    return_codes: dict[int, str]
    l2: bool  # does data start at the Ethernet header?
    input: str  # "packet" for the networking hooks, "ctx" for hooks whose input is the context itself
    doc: str
    defaults: dict[str, int] = field(default_factory=dict)  # context values of a test run
    expected_attach_type: int = 0  # what BPF_PROG_LOAD needs for this hook
    aliases: dict[str, str] = field(default_factory=dict)  # other names for context fields (arg1 -> di)
    # (offset, write) -> True where is_valid_access also wants CAP_BPF (types an unprivileged loader may load)
    needs_cap_bpf: Callable[[int, bool], bool] | None = None

    def return_name(self, value: int) -> str | None:
        return self.return_codes.get(value & 0xFFFFFFFF) or self.return_codes.get(_s32(value))


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


TC_ACTIONS = {-1: "TC_ACT_UNSPEC", 0: "TC_ACT_OK", 1: "TC_ACT_RECLASSIFY", 2: "TC_ACT_SHOT", 3: "TC_ACT_PIPE",
              4: "TC_ACT_STOLEN", 5: "TC_ACT_QUEUED", 6: "TC_ACT_REPEAT", 7: "TC_ACT_REDIRECT", 8: "TC_ACT_TRAP"}
SKB_DEFAULTS = {"ifindex": 1}  # the loopback device that BPF_PROG_TEST_RUN uses

PROG_TYPES: dict[str, ProgType] = {p.name: p for p in (
    ProgType("socket_filter", 1, "socket", "__sk_buff", SK_BUFF_SIZE, SK_BUFF, sk_filter_is_valid_access,
             {0: "drop"}, l2=False, input="packet", defaults=SKB_DEFAULTS,
             doc="runs on packets a socket receives; returns how many bytes to keep (0 drops)"),
    ProgType("xdp", 6, "xdp", "xdp_md", XDP_MD_SIZE, XDP_MD, xdp_is_valid_access,
             {0: "XDP_ABORTED", 1: "XDP_DROP", 2: "XDP_PASS", 3: "XDP_TX", 4: "XDP_REDIRECT"}, l2=True,
             input="packet", defaults={"ingress_ifindex": 1, "rx_queue_index": 0},
             doc="runs in the driver on every received frame, before the kernel allocates an skb"),
    ProgType("sched_cls", 3, "tc", "__sk_buff", SK_BUFF_SIZE, SK_BUFF, tc_cls_act_is_valid_access, TC_ACTIONS,
             l2=True, input="packet", defaults=SKB_DEFAULTS,
             doc="traffic-control classifier (tc/tcx ingress or egress) in direct-action mode"),
    ProgType("sched_act", 4, "action", "__sk_buff", SK_BUFF_SIZE, SK_BUFF, tc_cls_act_is_valid_access, TC_ACTIONS,
             l2=True, input="packet", defaults=SKB_DEFAULTS, doc="traffic-control action"),
    ProgType("cgroup_skb", 8, "cgroup_skb/ingress", "__sk_buff", SK_BUFF_SIZE, SK_BUFF, cg_skb_is_valid_access,
             {0: "drop", 1: "allow"}, l2=False, input="packet", defaults=SKB_DEFAULTS,
             doc="runs on packets entering or leaving a cgroup's sockets; 1 allows, 0 drops",
             needs_cap_bpf=cg_skb_needs_cap_bpf),
    ProgType("kprobe", 2, "kprobe", "pt_regs", PT_REGS_SIZE, PT_REGS, kprobe_prog_is_valid_access, {},
             l2=False, input="ctx", aliases=PT_REGS_ALIASES,
             doc="runs when a kernel function is entered (kprobe) or returns (kretprobe); the context is the "
                 "CPU registers (x86-64)"),
    ProgType("tracepoint", 5, "tracepoint", "trace event record", TRACEPOINT_CTX_SIZE, (), tp_prog_is_valid_access,
             {}, l2=False, input="ctx",
             doc="runs at a static kernel tracepoint; the context is the event's record"),
    ProgType("raw_tracepoint", 17, "raw_tracepoint", "bpf_raw_tracepoint_args", RAW_TP_ARGS_SIZE, RAW_TP_ARGS,
             raw_tp_prog_is_valid_access, {}, l2=False, input="ctx",
             doc="runs at a tracepoint with its raw arguments (u64 args[])"),
    ProgType("perf_event", 7, "perf_event", "bpf_perf_event_data", PERF_EVENT_DATA_SIZE, PERF_EVENT_DATA,
             pe_prog_is_valid_access, {}, l2=False, input="ctx", aliases=PT_REGS_ALIASES,
             doc="runs on a perf event sample (a timer, a hardware counter overflow)"),
    ProgType("cgroup_sock_addr", 18, "cgroup/connect4", "bpf_sock_addr", SOCK_ADDR_SIZE, SOCK_ADDR,
             sock_addr_is_valid_access, {0: "reject (EPERM)", 1: "allow"}, l2=False, input="ctx",
             defaults={"user_family": 2, "family": 2, "type": 1, "protocol": 6}, expected_attach_type=10,
             doc="runs when a socket in the cgroup calls connect() on IPv4; may rewrite the destination"),
)}


def get(name: str) -> ProgType:
    try:
        return PROG_TYPES[name]
    except KeyError:
        raise InputError("type", f"unknown program type {name!r} ({', '.join(PROG_TYPES)})") from None


# --- test-run inputs ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PacketInput:
    """Where the packet and the context values come from for one run (BPF_PROG_TEST_RUN semantics)."""

    frame: bytes  # the whole frame, from the Ethernet header
    data_offset: int  # where ``data`` starts in the frame (14 for non-L2 skb types)
    ctx_values: dict[str, int]


def packet_input(ptype: ProgType, frame: bytes) -> PacketInput:
    if len(frame) < ETH_HLEN:
        raise InputError("packet", f"the packet is {len(frame)} bytes; BPF_PROG_TEST_RUN needs at least "
                                   f"{ETH_HLEN} (an Ethernet header)")
    values = dict(ptype.defaults)
    if ptype.ctx_struct == "__sk_buff":
        data_offset = 0 if ptype.l2 else ETH_HLEN
        protocol = _eth_protocol(frame)
        network = SKB_NETWORK_HEADER.get(protocol)
        if network is not None and len(frame) - ETH_HLEN < network[1]:
            raise InputError("packet", f"the packet is {network[0]} with {len(frame) - ETH_HLEN} bytes after the "
                                       f"Ethernet header; BPF_PROG_TEST_RUN refuses it (EINVAL) with fewer than "
                                       f"{network[1]} (the {network[0]} header)")
        values["len"] = len(frame) - data_offset
        values["protocol"] = int.from_bytes(protocol.to_bytes(2, "big"), "little")  # __be16 read as a u32
        values["pkt_type"] = _pkt_type(frame[0:6])
    else:
        data_offset = 0
    return PacketInput(frame, data_offset, values)


SKB_NETWORK_HEADER = {0x0800: ("IPv4", 20), 0x86DD: ("IPv6", 40)}
"""EtherType -> (name, bytes): an skb test run (``bpf_prog_test_run_skb``) refuses a packet of these types whose
network header is cut short, as measured on the kernel for every __sk_buff program type (XDP takes them)."""


def _eth_protocol(frame: bytes) -> int:
    """``skb->protocol`` as ``eth_type_trans`` sets it (host order): the EtherType from 0x0600 up; below that
    the field is an 802.3 length, and the protocol is ETH_P_802_3 (1) for a raw IPX frame (payload starting
    ff ff), else ETH_P_802_2 (4)."""
    ether_type = int.from_bytes(frame[12:14], "big")
    if ether_type >= 0x0600:
        return ether_type
    return 0x0001 if frame[ETH_HLEN:ETH_HLEN + 2] == b"\xff\xff" else 0x0004


def _pkt_type(dest: bytes) -> int:
    """``eth_type_trans`` on the loopback device (address and broadcast address all zero)."""
    if dest[0] & 1:
        return 2  # PACKET_MULTICAST: lo's broadcast address is 00:00:00:00:00:00, so ff:ff:.. counts here
    if dest == bytes(6):
        return 0  # PACKET_HOST
    return 3  # PACKET_OTHERHOST


def ctx_bytes(ptype: ProgType, values: dict[str, int]) -> bytearray:
    data = bytearray(ptype.ctx_size)
    for f in ptype.fields:
        if f.name in values and f.kind == "value":
            width = 8 if f.size == 8 else 4
            data[f.offset:f.offset + width] = (values[f.name] & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return data


def context_input(ptype: ProgType, values: dict[str, int], event: str | None = None,
                  strings: dict[str, bytes] | None = None) -> bytearray:
    """The context bytes of a hook whose input is the context (kprobe registers, a tracepoint record ...).

    ``values`` sets fields by name (or alias: ``arg1``..``arg5`` for kprobes). Tracepoints also need the
    ``event`` (``syscalls/sys_enter_openat``) and, for ``__data_loc`` fields, the string in ``strings``.
    """
    from . import tracepoints

    if ptype.name == "tracepoint":
        ev = tracepoints.EVENTS.get(event or "")
        if ev is None:
            raise InputError("event", f"unknown tracepoint {event!r} ({', '.join(tracepoints.EVENTS)})")
        data = bytearray(ptype.ctx_size)
        struct.pack_into("<H", data, 0, ev.id)
        tail = ev.size
        for name, value in {**{"common_pid": 0}, **values}.items():
            f = ev.field(name)
            if f is None or f.data_loc:
                raise InputError(f"ctx.{name}", f"{ev.name} has no number field {name!r} "
                                                f"({', '.join(x.name for x in ev.fields if x.offset >= 8)})")
            data[f.offset:f.offset + f.size] = (value & ((1 << (8 * f.size)) - 1)).to_bytes(f.size, "little")
        for f in ev.fields:
            if f.data_loc:
                text = (strings or {}).get(f.name, b"") + b"\0"
                data[tail:tail + len(text)] = text
                struct.pack_into("<I", data, f.offset, len(text) << 16 | tail)
                tail += len(text)
        return data
    known = {f.name for f in ptype.fields if f.kind == "value"}
    resolved = dict(ptype.defaults)
    for name, value in values.items():
        real = ptype.aliases.get(name, name)
        if real not in known:
            raise InputError(f"ctx.{name}", f"{ptype.ctx_struct} has no field {name!r} "
                                            f"({', '.join(sorted(known | set(ptype.aliases)))})")
        size = next(f.size for f in ptype.fields if f.name == real)
        bits = min(size, 8) * 8
        if not -(1 << (bits - 1)) <= value < (1 << bits):
            raise InputError(f"ctx.{name}", f"{ptype.ctx_struct}.{real} is {min(size, 8)} bytes: the value must "
                                            f"fit in {bits} bits")
        resolved[real] = value
    return ctx_bytes(ptype, resolved)
