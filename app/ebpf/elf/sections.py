"""ELF section names -> program types, as libbpf reads ``SEC("...")`` (``section_defs`` in libbpf.c, 1.x).

libbpf's rules, mirrored here: ``name`` matches only exactly; ``name+`` matches ``name`` or ``name/extras``
(the extras say where to attach: ``kprobe/do_unlinkat``, ``tracepoint/syscalls/sys_enter_openat``). The
first matching entry wins, so specific names come before general ones (``xdp/devmap`` before ``xdp``).
libbpf 1.0 dropped the old "sloppy" prefixes (``xdp_prog``, ``socket1``, ``classifier/ingress``); so do we:
such a section is listed but has no known type, and the caller must say which hook to use.

Program types are named as in ``enum bpf_prog_type`` without ``BPF_PROG_TYPE_`` (the names of
``app.oracle.PROG_TYPES`` and ``app.ebpf.progtypes``); attach types as in ``enum bpf_attach_type``
without ``BPF_``, with their kernel numbers for ``expected_attach_type``.
"""
from __future__ import annotations

from dataclasses import dataclass

#: ``enum bpf_attach_type`` in kernel order (include/uapi/linux/bpf.h), lower case without ``BPF_``.
ATTACH_TYPES = (
    "cgroup_inet_ingress", "cgroup_inet_egress", "cgroup_inet_sock_create", "cgroup_sock_ops",
    "sk_skb_stream_parser", "sk_skb_stream_verdict", "cgroup_device", "sk_msg_verdict", "cgroup_inet4_bind",
    "cgroup_inet6_bind", "cgroup_inet4_connect", "cgroup_inet6_connect", "cgroup_inet4_post_bind",
    "cgroup_inet6_post_bind", "cgroup_udp4_sendmsg", "cgroup_udp6_sendmsg", "lirc_mode2", "flow_dissector",
    "cgroup_sysctl", "cgroup_udp4_recvmsg", "cgroup_udp6_recvmsg", "cgroup_getsockopt", "cgroup_setsockopt",
    "trace_raw_tp", "trace_fentry", "trace_fexit", "modify_return", "lsm_mac", "trace_iter",
    "cgroup_inet4_getpeername", "cgroup_inet6_getpeername", "cgroup_inet4_getsockname",
    "cgroup_inet6_getsockname", "xdp_devmap", "cgroup_inet_sock_release", "xdp_cpumap", "sk_lookup", "xdp",
    "sk_skb_verdict", "sk_reuseport_select", "sk_reuseport_select_or_migrate", "perf_event",
    "trace_kprobe_multi", "lsm_cgroup", "struct_ops", "netfilter", "tcx_ingress", "tcx_egress",
    "trace_uprobe_multi", "cgroup_unix_connect", "cgroup_unix_sendmsg", "cgroup_unix_recvmsg",
    "cgroup_unix_getpeername", "cgroup_unix_getsockname", "netkit_primary", "netkit_peer",
    "trace_kprobe_session",
)
ATTACH_TYPE_IDS = {name: i for i, name in enumerate(ATTACH_TYPES)}


@dataclass(frozen=True)
class SectionDef:
    """One ``SEC()`` spelling: ``pattern`` (``+`` at the end: optional ``/extras``), the program type, the
    expected attach type (None when the kernel needs none), and whether the program may sleep."""

    pattern: str
    prog_type: str
    attach_type: str | None = None
    sleepable: bool = False

    def matches(self, name: str) -> bool:
        if self.pattern.endswith("+"):
            base = self.pattern[:-1]
            return name == base or name.startswith(base + "/")
        return name == self.pattern

    def extras(self, name: str) -> str:
        """What follows ``pattern/`` in ``name`` (the attach target), or ""."""
        base = self.pattern.rstrip("+")
        return name[len(base) + 1:] if name.startswith(base + "/") else ""


def _d(pattern: str, prog_type: str, attach: str | None = None, sleepable: bool = False) -> SectionDef:
    return SectionDef(pattern, prog_type, attach, sleepable)


def _sock_addr(hook: str, attach: str) -> SectionDef:
    return _d(f"cgroup/{hook}", "cgroup_sock_addr", attach)


SECTION_DEFS: tuple[SectionDef, ...] = (
    _d("socket", "socket_filter"),
    _d("sk_reuseport/migrate", "sk_reuseport", "sk_reuseport_select_or_migrate"),
    _d("sk_reuseport", "sk_reuseport", "sk_reuseport_select"),
    _d("kprobe+", "kprobe"),
    _d("uprobe+", "kprobe"),
    _d("uprobe.s+", "kprobe", sleepable=True),
    _d("kretprobe+", "kprobe"),
    _d("uretprobe+", "kprobe"),
    _d("uretprobe.s+", "kprobe", sleepable=True),
    _d("kprobe.multi+", "kprobe", "trace_kprobe_multi"),
    _d("kretprobe.multi+", "kprobe", "trace_kprobe_multi"),
    _d("kprobe.session+", "kprobe", "trace_kprobe_session"),
    _d("uprobe.multi+", "kprobe", "trace_uprobe_multi"),
    _d("uretprobe.multi+", "kprobe", "trace_uprobe_multi"),
    _d("ksyscall+", "kprobe"),
    _d("kretsyscall+", "kprobe"),
    _d("usdt+", "kprobe"),
    _d("tc/ingress", "sched_cls", "tcx_ingress"),
    _d("tc/egress", "sched_cls", "tcx_egress"),
    _d("tcx/ingress", "sched_cls", "tcx_ingress"),
    _d("tcx/egress", "sched_cls", "tcx_egress"),
    _d("tc", "sched_cls"),
    _d("classifier", "sched_cls"),
    _d("action", "sched_act"),
    _d("netkit/primary", "sched_cls", "netkit_primary"),
    _d("netkit/peer", "sched_cls", "netkit_peer"),
    _d("tracepoint+", "tracepoint"),
    _d("tp+", "tracepoint"),
    _d("raw_tracepoint+", "raw_tracepoint"),
    _d("raw_tp+", "raw_tracepoint"),
    _d("raw_tracepoint.w+", "raw_tracepoint_writable"),
    _d("raw_tp.w+", "raw_tracepoint_writable"),
    _d("tp_btf+", "tracing", "trace_raw_tp"),
    _d("fentry+", "tracing", "trace_fentry"),
    _d("fmod_ret+", "tracing", "modify_return"),
    _d("fexit+", "tracing", "trace_fexit"),
    _d("fentry.s+", "tracing", "trace_fentry", True),
    _d("fmod_ret.s+", "tracing", "modify_return", True),
    _d("fexit.s+", "tracing", "trace_fexit", True),
    _d("freplace+", "ext"),
    _d("lsm+", "lsm", "lsm_mac"),
    _d("lsm.s+", "lsm", "lsm_mac", True),
    _d("lsm_cgroup+", "lsm", "lsm_cgroup"),
    _d("iter+", "tracing", "trace_iter"),
    _d("iter.s+", "tracing", "trace_iter", True),
    _d("syscall", "syscall", sleepable=True),
    _d("xdp.frags/devmap", "xdp", "xdp_devmap"),
    _d("xdp/devmap", "xdp", "xdp_devmap"),
    _d("xdp.frags/cpumap", "xdp", "xdp_cpumap"),
    _d("xdp/cpumap", "xdp", "xdp_cpumap"),
    _d("xdp.frags", "xdp", "xdp"),
    _d("xdp", "xdp", "xdp"),
    _d("perf_event", "perf_event"),
    _d("lwt_in", "lwt_in"),
    _d("lwt_out", "lwt_out"),
    _d("lwt_xmit", "lwt_xmit"),
    _d("lwt_seg6local", "lwt_seg6local"),
    _d("sockops", "sock_ops", "cgroup_sock_ops"),
    _d("sk_skb/stream_parser", "sk_skb", "sk_skb_stream_parser"),
    _d("sk_skb/stream_verdict", "sk_skb", "sk_skb_stream_verdict"),
    _d("sk_skb/verdict", "sk_skb", "sk_skb_verdict"),
    _d("sk_skb", "sk_skb"),
    _d("sk_msg", "sk_msg", "sk_msg_verdict"),
    _d("lirc_mode2", "lirc_mode2", "lirc_mode2"),
    _d("flow_dissector", "flow_dissector", "flow_dissector"),
    _d("cgroup_skb/ingress", "cgroup_skb", "cgroup_inet_ingress"),
    _d("cgroup_skb/egress", "cgroup_skb", "cgroup_inet_egress"),
    _d("cgroup/skb", "cgroup_skb"),
    _d("cgroup/sock_create", "cgroup_sock", "cgroup_inet_sock_create"),
    _d("cgroup/sock_release", "cgroup_sock", "cgroup_inet_sock_release"),
    _d("cgroup/sock", "cgroup_sock", "cgroup_inet_sock_create"),
    _d("cgroup/post_bind4", "cgroup_sock", "cgroup_inet4_post_bind"),
    _d("cgroup/post_bind6", "cgroup_sock", "cgroup_inet6_post_bind"),
    _sock_addr("bind4", "cgroup_inet4_bind"),
    _sock_addr("bind6", "cgroup_inet6_bind"),
    _sock_addr("connect4", "cgroup_inet4_connect"),
    _sock_addr("connect6", "cgroup_inet6_connect"),
    _sock_addr("connect_unix", "cgroup_unix_connect"),
    _sock_addr("sendmsg4", "cgroup_udp4_sendmsg"),
    _sock_addr("sendmsg6", "cgroup_udp6_sendmsg"),
    _sock_addr("sendmsg_unix", "cgroup_unix_sendmsg"),
    _sock_addr("recvmsg4", "cgroup_udp4_recvmsg"),
    _sock_addr("recvmsg6", "cgroup_udp6_recvmsg"),
    _sock_addr("recvmsg_unix", "cgroup_unix_recvmsg"),
    _sock_addr("getpeername4", "cgroup_inet4_getpeername"),
    _sock_addr("getpeername6", "cgroup_inet6_getpeername"),
    _sock_addr("getpeername_unix", "cgroup_unix_getpeername"),
    _sock_addr("getsockname4", "cgroup_inet4_getsockname"),
    _sock_addr("getsockname6", "cgroup_inet6_getsockname"),
    _sock_addr("getsockname_unix", "cgroup_unix_getsockname"),
    _d("cgroup/sysctl", "cgroup_sysctl", "cgroup_sysctl"),
    _d("cgroup/getsockopt", "cgroup_sockopt", "cgroup_getsockopt"),
    _d("cgroup/setsockopt", "cgroup_sockopt", "cgroup_setsockopt"),
    _d("cgroup/dev", "cgroup_device", "cgroup_device"),
    _d("struct_ops+", "struct_ops"),
    _d("struct_ops.s+", "struct_ops", sleepable=True),
    _d("sk_lookup", "sk_lookup", "sk_lookup"),
    _d("netfilter", "netfilter", "netfilter"),
)


@dataclass(frozen=True)
class SectionKind:
    """What a section name says: the program type (None if libbpf would not know it), the attach type
    name and number (``expected_attach_type``; 0 when there is none), and the attach target."""

    prog_type: str | None
    attach_type: str | None
    expected_attach_type: int
    target: str


def classify(name: str) -> SectionKind:
    """Mirror of libbpf's ``find_sec_def``: the first entry of :data:`SECTION_DEFS` that matches."""
    for d in SECTION_DEFS:
        if d.matches(name):
            attach = d.attach_type
            return SectionKind(d.prog_type, attach, ATTACH_TYPE_IDS[attach] if attach else 0, d.extras(name))
    return SectionKind(None, None, 0, "")
