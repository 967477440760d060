"""The examples menu: small programs that each show one thing worth stepping through, one or more per hook.

An example is data: its program, hook (``type``), input (input memory, packets as spec lines, context
fields as typed on the form, a tracepoint event), environment, map seeds, and the result it must give
(``expect``: one entry per run). ``tests/web/test_examples.py`` runs every example and checks it, and
``tests/web/test_examples_kernel.py`` loads every hook example into the running kernel (where ``bpf()``
is permitted): the kernel must accept it, and for packet hooks ``BPF_PROG_TEST_RUN`` must return what the
playground returns. So the menu never offers a program that does not work as its summary says, or that
the kernel would refuse, except the examples made to be refused (``rejects``: the verifier's message, which
ours and the kernel's must both give; their page opens at the rejection and its explanation).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from app.ebpf.cc import compiler_available

from .forms import LANG_ASM, LANG_C, RunForm, SeedRow
from .inputs import Limits


@dataclass(frozen=True)
class Example:
    """``slug`` is the stable id used in links (``/?example=sum``); ``type`` the hook; ``mem`` raw input
    memory as hex; ``packets`` one packet spec per run; ``ctx`` context fields as the form takes them
    (``user_ip4``: a dotted quad); ``event`` the tracepoint; ``env`` environment settings; ``seeds`` map
    entries as (map, key hex, value hex); ``expect`` the outcome of each run: a return value, its name
    (``XDP_DROP``), or the fault kind (``"fault:memory"``); ``language`` what ``source`` is written in
    (``asm`` or ``c``); ``rejects`` the verifier's first message for an example it refuses on purpose (blank:
    the verifier and the kernel accept it)."""

    slug: str
    title: str
    summary: str
    source: str
    type: str = "raw"
    mem: str = ""
    packets: tuple[str, ...] = ()
    ctx: Mapping[str, str] = field(default_factory=dict)
    event: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    seeds: tuple[tuple[str, str, str], ...] = ()
    expect: tuple[int | str, ...] = (0,)
    language: str = LANG_ASM
    rejects: str = ""

    def form(self, limits: Limits) -> RunForm:
        """The playground form with this example filled in."""
        return RunForm(self.source, str(limits.run_insns), type=self.type, mem=self.mem, packet_from="spec",
                       packet_spec="\n".join(self.packets), ctx=dict(self.ctx), event=self.event, env=dict(self.env),
                       seeds=tuple(SeedRow(*s) for s in self.seeds), language=self.language)


EXAMPLES: tuple[Example, ...] = (
    Example(
        "sum", "Sum of 1..N (a loop)",
        "A loop with a conditional jump back: watch r1 count down while r0 adds up.",
        """\
# Sum of 1..N: a loop with a conditional jump back.
# r0 accumulates, r1 counts down from N to 1.
    r0 = 0
    r1 = 10             # N
loop:
    r0 += r1
    r1 -= 1
    if r1 != 0 goto loop
    exit                # returns 55
""", expect=(55,)),
    Example(
        "bswap", "Byte swap of the input memory",
        "Reads 8 bytes of input through r1, reverses them and writes them back in place.",
        """\
# Byte swap of the input memory, in place.
# r1 points to the input, r2 holds its length.
    if r2 < 8 goto too_short
    r0 = *(u64 *)(r1 + 0)
    r0 = bswap64 r0
    *(u64 *)(r1 + 0) = r0
    exit                # returns the swapped value
too_short:
    r0 = -1
    exit
""", mem="01 02 03 04 05 06 07 08", expect=(0x0102030405060708,)),
    Example(
        "call", "A bpf-to-bpf call",
        "A subprogram call: the callee gets its own stack frame and returns in r0.",
        """\
# A bpf-to-bpf call: square(7) + 1.
# The callee gets a fresh 512-byte stack frame; r6-r9 are kept for the caller.
    r1 = 7
    call square
    r0 += 1
    exit                # returns 50

square:
    *(u64 *)(r10 - 8) = r1   # a slot in the callee's own frame
    r0 = r1
    r0 *= r1
    exit
""", expect=(50,)),
    Example(
        "legacy", "Legacy syntax (uBPF tests)",
        "The mnemonic syntax of the uBPF and bpf_conformance suites: sum the bytes of the input.",
        """\
# The legacy syntax of the uBPF and bpf_conformance test suites:
# sum the bytes of the input memory (r1 = address, r2 = length).
    mov %r0, 0
    mov %r3, 0
loop:
    jge %r3, %r2, done
    mov %r4, %r1
    add %r4, %r3
    ldxb %r5, [%r4]
    add %r0, %r5
    add %r3, 1
    ja loop
done:
    exit
""", mem="01 02 03 04 05", expect=(15,)),
    Example(
        "atomic", "An atomic counter on the stack",
        "Atomic adds to a stack slot, and a fetch-add that returns the old value.",
        """\
# An atomic counter in a stack slot.
    *(u64 *)(r10 - 8) = 0            # counter = 0
    r1 = 5
    lock *(u64 *)(r10 - 8) += r1     # counter += 5
    lock *(u64 *)(r10 - 8) += r1     # counter += 5
    r2 = 1
    r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)   # r2 = 10 (the old value), counter = 11
    r0 = *(u64 *)(r10 - 8)
    exit                             # returns 11
""", expect=(11,)),
    Example(
        "fault", "Reading past the input (a fault)",
        "An out-of-bounds load: the run stops with a fault naming the region and offset.",
        """\
# Reading past the end of the input: the VM stops with a fault
# that names the region and the offset.
    r0 = *(u32 *)(r1 + 0)
    r0 = *(u32 *)(r1 + 4)     # the input is only 6 bytes long
    exit
""", mem="de ad be ef 01 02", expect=("fault:memory",)),
    Example(
        "xdp-filter", "XDP: drop non-IPv4, count protocols",
        "Bounds checks against data_end, XDP_PASS for IPv4 and XDP_DROP for the rest, and a per-protocol "
        "counter in a hash map; four packets run one after another on the same map.",
        """\
# XDP: pass IPv4 packets, drop everything else, and count the IPv4 packets
# per IP protocol in a hash map (key: the protocol number, value: a u64).
.map proto_count type=hash key_size=4 value_size=8 max_entries=16

    r2 = *(u32 *)(r1 + 0)       # ctx->data: the first byte of the packet
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end: one past the last byte
    r4 = r2
    r4 += 34                    # Ethernet (14 bytes) + IPv4 header (20)
    if r4 > r3 goto drop        # the bounds check the verifier insists on
    r4 = *(u16 *)(r2 + 12)      # EtherType, as stored (network order)
    if r4 != 0x8 goto drop      # 0x0800 (IPv4) reads as 0x0008 on x86
    r4 = *(u8 *)(r2 + 23)       # IPv4 protocol: 6 TCP, 17 UDP, 1 ICMP
    *(u32 *)(r10 - 4) = r4      # the key, on the stack
    r1 = proto_count ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem    # r0 = &value, or NULL
    if r0 == 0 goto first
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1 # atomic: other CPUs may count too
    goto pass
first:
    r1 = 1
    *(u64 *)(r10 - 16) = r1     # the first count
    r1 = proto_count ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 1                      # BPF_NOEXIST
    call bpf_map_update_elem
pass:
    r0 = 2                      # XDP_PASS
    exit
drop:
    r0 = 1                      # XDP_DROP
    exit
""", type="xdp", packets=("eth/ipv4(src=10.0.0.1)/udp(dport=53)/payload(query)", "eth/ipv4(src=10.0.0.7)/tcp(dport=80)",
                          "eth/ipv4(src=10.0.0.1)/udp(dport=123)", "eth/ipv6/udp(dport=53)"),
        expect=("XDP_PASS", "XDP_PASS", "XDP_PASS", "XDP_DROP")),
    Example(
        "xdp-ringbuf", "XDP: events through a ring buffer",
        "bpf_ringbuf_output sends a small record (length, source address) to user space for every IPv4 "
        "packet; the ring buffer's records are listed after the run.",
        """\
# XDP: report every IPv4 packet to user space through a ring buffer.
# Each record is 8 bytes: the packet's length (u32), then its source address.
.map events type=ringbuf key_size=0 value_size=0 max_entries=4096

    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r4 = r2
    r4 += 34                    # Ethernet + IPv4 header
    if r4 > r3 goto out
    r4 = *(u16 *)(r2 + 12)
    if r4 != 0x8 goto out       # IPv4 only
    r4 = r3
    r4 -= r2                    # length = data_end - data
    *(u32 *)(r10 - 8) = r4
    r4 = *(u32 *)(r2 + 26)      # IPv4 source address
    *(u32 *)(r10 - 4) = r4
    r1 = events ll
    r2 = r10
    r2 += -8                    # the record, on the stack
    r3 = 8                      # its size
    r4 = 0                      # flags
    call bpf_ringbuf_output     # copies it into the ring buffer
out:
    r0 = 2                      # XDP_PASS
    exit
""", type="xdp", packets=("eth/ipv4(src=192.168.1.10)/udp(dport=53)/payload(query)", "eth/ipv6/tcp(dport=443)",
                          "eth/ipv4(src=10.1.2.3)/tcp(dport=22)"),
        expect=("XDP_PASS", "XDP_PASS", "XDP_PASS")),
    Example(
        "tc-rewrite", "TC: set skb->mark, rewrite a UDP port",
        "A traffic-control classifier marks the packet and rewrites UDP port 53 to 5353 with "
        "bpf_skb_store_bytes, fixing the checksum with bpf_l4_csum_replace; compare input and output packets.",
        """\
# TC (sched_cls): set skb->mark, and send DNS to port 5353 instead of 53:
# rewrite the UDP destination port and fix the UDP checksum.
    r6 = r1                     # keep the context: helpers take it
    r1 = 42
    *(u32 *)(r6 + 8) = r1       # skb->mark = 42
    r2 = *(u32 *)(r6 + 76)      # skb->data
    r3 = *(u32 *)(r6 + 80)      # skb->data_end
    r4 = r2
    r4 += 42                    # Ethernet + IPv4 (20) + UDP (8)
    if r4 > r3 goto out
    r4 = *(u16 *)(r2 + 12)
    if r4 != 0x8 goto out       # IPv4?
    r4 = *(u8 *)(r2 + 14)
    if r4 != 0x45 goto out      # ... with a 20-byte header?
    r4 = *(u8 *)(r2 + 23)
    if r4 != 17 goto out        # UDP?
    r7 = *(u16 *)(r2 + 36)      # destination port, network order
    if r7 != 0x3500 goto out    # port 53 is 00 35, read as 0x3500
    r1 = r6
    r2 = 40                     # offset of the UDP checksum
    r3 = r7                     # the old value ...
    r4 = 0xe914                 # ... the new one: port 5353 (14 e9)
    r5 = 2                      # flags: a 2-byte field
    call bpf_l4_csum_replace
    r1 = 0xe914
    *(u16 *)(r10 - 2) = r1      # the new port's bytes, on the stack
    r1 = r6
    r2 = 36                     # offset of the destination port
    r3 = r10
    r3 += -2
    r4 = 2                      # length
    r5 = 0                      # flags
    call bpf_skb_store_bytes
out:
    r0 = 0                      # TC_ACT_OK
    exit
""", type="sched_cls", packets=("eth/ipv4(dst=10.0.0.53)/udp(sport=40000,dport=53)/payload(query)",),
        expect=("TC_ACT_OK",)),
    Example(
        "tc-action-priority", "TC action (sched_act): priority from DSCP",
        "A tc action reads the IPv4 DSCP bits and writes them to skb->priority, a context field it may write, "
        "then returns TC_ACT_PIPE to hand the packet to the next action.",
        """\
# TC action (sched_act): give IPv4 packets a queueing priority from the
# DSCP bits of their header, then hand them to the next action.
    r2 = *(u32 *)(r1 + 76)      # skb->data
    r3 = *(u32 *)(r1 + 80)      # skb->data_end
    r4 = r2
    r4 += 16                    # Ethernet (14) + IPv4 version and TOS (2)
    if r4 > r3 goto out         # proves bytes 0..15 are in the packet
    r4 = *(u16 *)(r2 + 12)      # EtherType, network order
    if r4 != 0x8 goto out       # ETH_P_IP (0x0800) reads as 0x0008
    r4 = *(u8 *)(r2 + 15)       # TOS: DSCP is its top 6 bits
    r4 >>= 2
    *(u32 *)(r1 + 32) = r4      # skb->priority = DSCP (46: expedited)
out:
    r0 = 3                      # TC_ACT_PIPE: on to the next action
    exit
""", type="sched_act", packets=("eth/ipv4(tos=0xb8)/udp(dport=5004)/payload(voice)", "eth/ipv6/udp"),
        expect=("TC_ACT_PIPE", "TC_ACT_PIPE")),
    Example(
        "socket-snaplen", "Socket filter: a snap length",
        "A socket filter's return value is how many bytes the socket gets: the first 64 bytes of IPv4 "
        "packets, nothing of the others.",
        """\
# Socket filter: keep at most 64 bytes of IPv4 packets, drop all others.
# The return value is how many bytes of the packet the socket gets (0 drops it).
    r0 = *(u32 *)(r1 + 16)      # skb->protocol: the EtherType, network order
    if r0 != 0x8 goto drop      # ETH_P_IP (0x0800) reads as 0x0008
    r0 = *(u32 *)(r1 + 0)       # skb->len (from the IP header on)
    if r0 <= 64 goto keep
    r0 = 64                     # the snap length
keep:
    exit
drop:
    r0 = 0
    exit
""", type="socket_filter", packets=("eth/ipv4/udp(dport=53)/payload(len=100)", "eth/ipv4/icmp", "eth/ipv6/udp"),
        expect=(64, 28, "drop")),
    Example(
        "cgroup-deny", "cgroup_skb: deny ports listed in a map",
        "Drops TCP packets to the ports in a hash map and allows the rest; the map is seeded with port 23 "
        "(see Map seeds).",
        """\
# cgroup_skb: drop TCP packets to the ports listed in a hash map, allow the rest.
# The map is seeded with port 23 before the run (see "Map seeds").
# cgroup_skb programs see the packet from its IP header on.
.map denied_ports type=hash key_size=2 value_size=1 max_entries=64

    r2 = *(u32 *)(r1 + 76)      # skb->data: the IPv4 header
    r3 = *(u32 *)(r1 + 80)      # skb->data_end
    r4 = r2
    r4 += 24                    # IPv4 header (20) + the TCP ports (4)
    if r4 > r3 goto allow
    r4 = *(u8 *)(r2 + 0)
    if r4 != 0x45 goto allow    # IPv4 without options
    r4 = *(u8 *)(r2 + 9)
    if r4 != 6 goto allow       # TCP
    r4 = *(u16 *)(r2 + 22)      # destination port, as its two bytes
    *(u16 *)(r10 - 2) = r4      # the key
    r1 = denied_ports ll
    r2 = r10
    r2 += -2
    call bpf_map_lookup_elem
    if r0 != 0 goto deny        # listed: drop it
allow:
    r0 = 1
    exit
deny:
    r0 = 0
    exit
""", type="cgroup_skb", packets=("eth/ipv4/tcp(dport=23)", "eth/ipv4/tcp(dport=80)", "eth/ipv4/udp(dport=23)"),
        seeds=(("denied_ports", "0017", "01"),), expect=("drop", "allow", "allow")),
    Example(
        "kprobe-args", "kprobe: read arg1 and arg2",
        "A kprobe's context is the CPU registers: the first arguments are in di and si. Prints them with "
        "bpf_trace_printk, as trace_pipe would show it.",
        """\
# kprobe on do_sys_openat2(int dfd, const char __user *filename, ...).
# The context is struct pt_regs: on x86-64 the first arguments are in
# di, si, dx, cx and r8 (PT_REGS_PARM1..5 in libbpf).
    r6 = *(u64 *)(r1 + 112)     # arg1 (di): dfd
    r7 = *(u64 *)(r1 + 104)     # arg2 (si): filename, a user-space pointer
    r1 = 0x6e2064253d646664 ll  # "dfd=%d n"
    *(u64 *)(r10 - 24) = r1
    r1 = 0xa786c253d656d61 ll   # "ame=%lx\\n"
    *(u64 *)(r10 - 16) = r1
    r1 = 0
    *(u64 *)(r10 - 8) = r1      # the terminating NUL
    r1 = r10
    r1 += -24                   # the format string
    r2 = 17                     # its size, with the NUL
    r3 = r6
    r4 = r7
    call bpf_trace_printk
    r0 = 0
    if r6 != -100 goto out      # AT_FDCWD: a path relative to the cwd
    r0 = 1
out:
    exit
""", type="kprobe", ctx={"di": "-100", "si": "0x7ffd5e1c2a40"}, expect=(1,)),
    Example(
        "tracepoint-openat", "Tracepoint: count O_CREAT opens",
        "At syscalls/sys_enter_openat the context is the event record: reads its flags field and counts "
        "every call and the calls with O_CREAT in an array map.",
        """\
# Tracepoint syscalls/sys_enter_openat: count openat() calls in slot 1 of an
# array, and those that may create a file (O_CREAT in flags) in slot 0.
.map opens type=array key_size=4 value_size=8 max_entries=2

    r6 = *(u64 *)(r1 + 32)      # the record's flags field
    r1 = 1
    *(u32 *)(r10 - 4) = r1      # key 1: every call
    r1 = opens ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    r6 &= 0x40                  # O_CREAT
    if r6 == 0 goto out
    r1 = 0
    *(u32 *)(r10 - 4) = r1      # key 0: calls with O_CREAT
    r1 = opens ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
out:
    r0 = 0
    exit
""", type="tracepoint", event="syscalls/sys_enter_openat",
        ctx={"__syscall_nr": "257", "dfd": "-100", "filename": "0x7ffd5e1c2a40", "flags": "0x241", "mode": "0o644"},
        expect=(0,)),
    Example(
        "raw-tracepoint", "raw_tracepoint: per-CPU syscall counter",
        "At raw_tracepoint/sys_enter args[1] is the syscall number: counts openat (257) in a per-CPU array; "
        "the environment puts the run on CPU 1, so CPU 1's copy changes.",
        """\
# raw_tracepoint/sys_enter: the raw arguments are args[0], the caller's
# struct pt_regs *, and args[1], the syscall number. Count openat() calls
# in a per-CPU array: each CPU has its own copy of the value.
.map openat_calls type=percpu_array key_size=4 value_size=8 max_entries=1

    r6 = *(u64 *)(r1 + 8)       # args[1]: the syscall number
    r0 = 0
    if r6 != 257 goto out       # __NR_openat on x86-64
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r1 = openat_calls ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem    # this CPU's copy
    if r0 == 0 goto out
    r1 = *(u64 *)(r0 + 0)
    r1 += 1                     # only this CPU writes it: no atomic needed
    *(u64 *)(r0 + 0) = r1
    r0 = 0
out:
    exit
""", type="raw_tracepoint", ctx={"args0": "0xffffc90000abbf58", "args1": "257"}, env={"cpu": "1"}, expect=(0,)),
    Example(
        "perf-event-profile", "perf_event: samples per process",
        "A sampling profiler's program: at each sample it adds the sample period from its context to the "
        "current process's total in a hash map (see Maps after the run: the key is the tgid).",
        """\
# perf_event: the program of a sampling profiler. At every sample, add the
# sample period (events since the last sample) to the process's total.
.map samples type=hash key_size=4 value_size=8 max_entries=1024

    r6 = *(u64 *)(r1 + 168)     # ctx->sample_period
    call bpf_get_current_pid_tgid
    r0 >>= 32                   # the upper half: tgid, the process id
    *(u32 *)(r10 - 4) = r0      # the key
    r1 = samples ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto first       # the process's first sample
    lock *(u64 *)(r0 + 0) += r6
    goto out
first:
    *(u64 *)(r10 - 16) = r6     # the value: this sample's period
    r1 = samples ll
    r2 = r10
    r2 += -4
    r3 = r10
    r3 += -16
    r4 = 0                      # BPF_ANY
    call bpf_map_update_elem
out:
    r0 = 0
    exit
""", type="perf_event", ctx={"sample_period": "100000", "ip": "0x401136"}, env={"pid": "4242", "tgid": "4242"},
        expect=(0,)),
    Example(
        "connect4-port", "cgroup/connect4: redirect a port",
        "connect() calls to 10.0.0.2:80 go to port 8080 instead: the program rewrites user_port in the "
        "context (network byte order, see the input panel).",
        """\
# cgroup/connect4: connect() calls to 10.0.0.2:80 go to port 8080 instead.
# user_ip4 and user_port hold network byte order (see the input panel).
    r2 = *(u32 *)(r1 + 4)       # ctx->user_ip4
    if r2 != 0x0200000a goto out   # 10.0.0.2 is 0a 00 00 02
    r2 = *(u32 *)(r1 + 24)      # ctx->user_port
    if r2 != 0x5000 goto out    # port 80 is 00 50, read as 0x5000
    r2 = 0x901f                 # port 8080 is 1f 90
    *(u32 *)(r1 + 24) = r2      # rewrite the destination port
out:
    r0 = 1                      # allow the connect()
    exit
""", type="cgroup_sock_addr", ctx={"user_ip4": "10.0.0.2", "user_port": "80"}, expect=("allow",)),    Example(
        "rejected-packet-bounds", "Rejected: a packet read without a bounds check",
        "The most common XDP mistake: reading the packet before comparing with data_end. The verifier refuses "
        "it; the page opens at the rejection, with what the check means and how to fix it.",
        """\
# Rejected: a packet read without a bounds check. The verifier lets a
# program read only packet bytes it has proven are inside the packet, by
# comparing a pointer with data_end first (see the xdp-filter example).
    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    # The fix: uncomment these three lines.
    # r4 = r2
    # r4 += 14                  # the Ethernet header's 14 bytes...
    # if r4 > r3 goto pass      # ...are inside the packet from here on
    r0 = *(u16 *)(r2 + 12)      # EtherType: rejected, nothing is proven (r=0)
pass:
    r0 = 2                      # XDP_PASS
    exit
""", type="xdp", packets=("eth/ipv4/udp",), expect=("XDP_PASS",),
        rejects="invalid access to packet, off=12 size=2, R2(id=0,off=12,r=0)"),
    Example(
        "rejected-null-check", "Rejected: a map value used without a NULL check",
        "bpf_map_lookup_elem may return NULL, and the verifier refuses any access until a check rules it out. "
        "The run shows why: the key is not in the map, and the access faults.",
        """\
# Rejected: a map value used without a NULL check. bpf_map_lookup_elem
# returns a pointer to the value, or NULL when the key is not there: the
# verifier refuses any access through it until a comparison rules NULL out.
.map hits type=hash key_size=4 value_size=8 max_entries=16

    r1 = 0
    *(u32 *)(r10 - 4) = r1      # key 0
    r1 = hits ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem    # r0: map_value_or_null
    # The fix: uncomment the next line.
    # if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1 # rejected: r0 may be NULL
out:
    r0 = 2                      # XDP_PASS
    exit
""", type="xdp", packets=("eth/ipv4/udp",), expect=("fault:memory",),
        rejects="R0 invalid mem access 'map_value_or_null'"),
)

C_EXAMPLES: tuple[Example, ...] = (
    Example(
        "c-xdp-count", "C: XDP, count packets per protocol",
        "The same job as the assembly XDP example, in C: the bounds check against data_end, then a hash map "
        "counter per IP protocol. The listing shows the C line of every instruction; click a line number to "
        "go there.",
        """\
/* XDP in C: count IPv4 packets per IP protocol in a hash map
 * (key: the protocol number, 6 = TCP, 17 = UDP; value: a packet count). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 16);
} proto_count SEC(".maps");

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	/* The bounds check: without it the verifier refuses the reads below. */
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	__u32 key = ip->protocol;
	__u64 *count = bpf_map_lookup_elem(&proto_count, &key);
	if (count) {
		__sync_fetch_and_add(count, 1);    /* atomic: other CPUs count too */
	} else {
		__u64 first = 1;
		bpf_map_update_elem(&proto_count, &key, &first, BPF_NOEXIST);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
""", type="xdp", packets=("eth/ipv4(src=10.0.0.1)/udp(dport=53)/payload(query)", "eth/ipv4(src=10.0.0.7)/tcp(dport=80)",
                          "eth/ipv4(src=10.0.0.1)/udp(dport=123)", "eth/ipv6/udp(dport=53)"),
        expect=("XDP_PASS", "XDP_PASS", "XDP_PASS", "XDP_PASS"), language=LANG_C),
    Example(
        "c-kprobe-args", "C: kprobe, name the arguments",
        "BPF_KPROBE names a kprobe's arguments, which it reads from the registers in struct pt_regs (di, si on "
        "x86-64); bpf_printk prints them as trace_pipe would show them.",
        """\
/* A kprobe in C, on do_sys_openat2(int dfd, const char __user *filename, ...).
 * BPF_KPROBE gives the arguments names: it reads them from struct pt_regs
 * (on x86-64, the first two are in di and si: see the input panel). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define AT_FDCWD -100

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(trace_openat2, int dfd, const char *filename)
{
	bpf_printk("dfd=%d name=%lx", dfd, (long)filename);
	return dfd == AT_FDCWD;    /* 1: a path relative to the cwd */
}

char LICENSE[] SEC("license") = "GPL";
""", type="kprobe", ctx={"di": "-100", "si": "0x7ffd5e1c2a40"}, expect=(1,), language=LANG_C),
)
"""Examples in C. They are compiled when they are opened; ``MENU`` lists them only where this server has
a C compiler (elsewhere ``/?example=c-xdp-count`` still opens, and the page says there is no compiler)."""

MENU: tuple[Example, ...] = EXAMPLES + (C_EXAMPLES if compiler_available()[0] else ())
"""The examples menu, in order: the assembly examples, then the C ones where C can be compiled."""

BY_SLUG: dict[str, Example] = {e.slug: e for e in EXAMPLES + C_EXAMPLES}
DEFAULT = EXAMPLES[0]


def first_of_type(prog_type: str) -> Example:
    """The first example for a hook (the default example for ``raw`` or a hook without one)."""
    return next((e for e in EXAMPLES if e.type == prog_type), DEFAULT)
