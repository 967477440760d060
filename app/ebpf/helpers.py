"""The helper table: one entry per Linux helper the playground knows, with the prototype the verifier
checks, the program types that may call it, the VM implementation and a one-line doc.

Ids and names follow ``__BPF_FUNC_MAPPER`` in ``include/uapi/linux/bpf.h`` (mainline 6.x, ids 0-211); the
kernel's verifier log prints a helper call as ``call bpf_<name>#<id>`` (``kernel/bpf/disasm.c``).
Prototypes use the kernel's ``bpf_func_proto`` vocabulary (``ARG_PTR_TO_MAP_KEY``, ``RET_INTEGER`` ...).
Which program types may call a helper follows each type's ``get_func_proto`` in the kernel for a
privileged (root) loader; ``tests/test_kernel_helpers.py`` checks it against the running kernel. Some of them
an unprivileged loader may not call (``needs_capability``: ``bpf_base_func_proto`` and the socket types' protos
offer them only with CAP_BPF or CAP_PERFMON), measured on Linux 6.18 as user nobody.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .helper_impl import base, map_ops, net, trace

_NAMES = (
    "unspec", "map_lookup_elem", "map_update_elem", "map_delete_elem", "probe_read", "ktime_get_ns",
    "trace_printk", "get_prandom_u32", "get_smp_processor_id", "skb_store_bytes", "l3_csum_replace",
    "l4_csum_replace", "tail_call", "clone_redirect", "get_current_pid_tgid", "get_current_uid_gid",
    "get_current_comm", "get_cgroup_classid", "skb_vlan_push", "skb_vlan_pop", "skb_get_tunnel_key",
    "skb_set_tunnel_key", "perf_event_read", "redirect", "get_route_realm", "perf_event_output",
    "skb_load_bytes", "get_stackid", "csum_diff", "skb_get_tunnel_opt", "skb_set_tunnel_opt",
    "skb_change_proto", "skb_change_type", "skb_under_cgroup", "get_hash_recalc", "get_current_task",
    "probe_write_user", "current_task_under_cgroup", "skb_change_tail", "skb_pull_data", "csum_update",
    "set_hash_invalid", "get_numa_node_id", "skb_change_head", "xdp_adjust_head", "probe_read_str",
    "get_socket_cookie", "get_socket_uid", "set_hash", "setsockopt", "skb_adjust_room", "redirect_map",
    "sk_redirect_map", "sock_map_update", "xdp_adjust_meta", "perf_event_read_value", "perf_prog_read_value",
    "getsockopt", "override_return", "sock_ops_cb_flags_set", "msg_redirect_map", "msg_apply_bytes",
    "msg_cork_bytes", "msg_pull_data", "bind", "xdp_adjust_tail", "skb_get_xfrm_state", "get_stack",
    "skb_load_bytes_relative", "fib_lookup", "sock_hash_update", "msg_redirect_hash", "sk_redirect_hash",
    "lwt_push_encap", "lwt_seg6_store_bytes", "lwt_seg6_adjust_srh", "lwt_seg6_action", "rc_repeat",
    "rc_keydown", "skb_cgroup_id", "get_current_cgroup_id", "get_local_storage", "sk_select_reuseport",
    "skb_ancestor_cgroup_id", "sk_lookup_tcp", "sk_lookup_udp", "sk_release", "map_push_elem", "map_pop_elem",
    "map_peek_elem", "msg_push_data", "msg_pop_data", "rc_pointer_rel", "spin_lock", "spin_unlock",
    "sk_fullsock", "tcp_sock", "skb_ecn_set_ce", "get_listener_sock", "skc_lookup_tcp", "tcp_check_syncookie",
    "sysctl_get_name", "sysctl_get_current_value", "sysctl_get_new_value", "sysctl_set_new_value", "strtol",
    "strtoul", "sk_storage_get", "sk_storage_delete", "send_signal", "tcp_gen_syncookie", "skb_output",
    "probe_read_user", "probe_read_kernel", "probe_read_user_str", "probe_read_kernel_str", "tcp_send_ack",
    "send_signal_thread", "jiffies64", "read_branch_records", "get_ns_current_pid_tgid", "xdp_output",
    "get_netns_cookie", "get_current_ancestor_cgroup_id", "sk_assign", "ktime_get_boot_ns", "seq_printf",
    "seq_write", "sk_cgroup_id", "sk_ancestor_cgroup_id", "ringbuf_output", "ringbuf_reserve",
    "ringbuf_submit", "ringbuf_discard", "ringbuf_query", "csum_level", "skc_to_tcp6_sock", "skc_to_tcp_sock",
    "skc_to_tcp_timewait_sock", "skc_to_tcp_request_sock", "skc_to_udp6_sock", "get_task_stack",
    "load_hdr_opt", "store_hdr_opt", "reserve_hdr_opt", "inode_storage_get", "inode_storage_delete", "d_path",
    "copy_from_user", "snprintf_btf", "seq_printf_btf", "skb_cgroup_classid", "redirect_neigh", "per_cpu_ptr",
    "this_cpu_ptr", "redirect_peer", "task_storage_get", "task_storage_delete", "get_current_task_btf",
    "bprm_opts_set", "ktime_get_coarse_ns", "ima_inode_hash", "sock_from_file", "check_mtu",
    "for_each_map_elem", "snprintf", "sys_bpf", "btf_find_by_name_kind", "sys_close", "timer_init",
    "timer_set_callback", "timer_start", "timer_cancel", "get_func_ip", "get_attach_cookie", "task_pt_regs",
    "get_branch_snapshot", "trace_vprintk", "skc_to_unix_sock", "kallsyms_lookup_name", "find_vma", "loop",
    "strncmp", "get_func_arg", "get_func_ret", "get_func_arg_cnt", "get_retval", "set_retval",
    "xdp_get_buff_len", "xdp_load_bytes", "xdp_store_bytes", "copy_from_user_task", "skb_set_tstamp",
    "ima_file_hash", "kptr_xchg", "map_lookup_percpu_elem", "skc_to_mptcp_sock", "dynptr_from_mem",
    "ringbuf_reserve_dynptr", "ringbuf_submit_dynptr", "ringbuf_discard_dynptr", "dynptr_read", "dynptr_write",
    "dynptr_data", "tcp_raw_gen_syncookie_ipv4", "tcp_raw_gen_syncookie_ipv6", "tcp_raw_check_syncookie_ipv4",
    "tcp_raw_check_syncookie_ipv6", "ktime_get_tai_ns", "user_ringbuf_drain", "cgrp_storage_get",
    "cgrp_storage_delete",
)

HELPER_NAMES: dict[int, str] = {i: "bpf_" + n for i, n in enumerate(_NAMES) if i}
"""Helper id -> kernel name (``bpf_map_lookup_elem``). Id 0 (``unspec``) is not a helper."""

HELPER_IDS: dict[str, int] = {n: i for i, n in HELPER_NAMES.items()}

# Program-type groups (names as in app.ebpf.progtypes)
NET = frozenset({"socket_filter", "xdp", "sched_cls", "sched_act", "cgroup_skb"})
SKB = frozenset({"socket_filter", "sched_cls", "sched_act", "cgroup_skb"})
TC = frozenset({"sched_cls", "sched_act"})
XDP = frozenset({"xdp"})
TRACING = frozenset({"kprobe", "tracepoint", "raw_tracepoint", "perf_event"})
ALL = NET | TRACING | {"cgroup_sock_addr"}  # "raw" programs may call any implemented helper


@dataclass(frozen=True)
class HelperSpec:
    id: int
    args: tuple[str, ...]  # ARG_* for r1.. in order
    ret: str  # RET_*
    prog_types: frozenset[str]
    impl: Callable[..., int] | None
    doc: str
    gpl_only: bool = False
    needs_capability: bool = False  # CAP_BPF or CAP_PERFMON: refused to an unprivileged loader
    changes_pkt_data: bool = False  # the verifier invalidates packet pointers after the call
    packet_read: tuple[int, int] | None = None  # (offset, length) registers: reads the packet at data + offset

    @property
    def name(self) -> str:
        return HELPER_NAMES[self.id]


MAP = "ARG_CONST_MAP_PTR"
KEY = "ARG_PTR_TO_MAP_KEY"
ANY = "ARG_ANYTHING"
CTX = "ARG_PTR_TO_CTX"
MEM_RO = "ARG_PTR_TO_MEM|MEM_RDONLY"
UNINIT = "ARG_PTR_TO_UNINIT_MEM"
SIZE = "ARG_CONST_SIZE"
SIZE0 = "ARG_CONST_SIZE_OR_ZERO"
INT = "RET_INTEGER"
VOID = "RET_VOID"


#: Helpers a socket filter or cgroup_skb program may call only with CAP_BPF or CAP_PERFMON (Linux 6.18, measured
#: by loading a call of each as user nobody; ``bpf_get_current_pid_tgid`` and ``_uid_gid`` are open to everyone).
_NEED_CAPABILITY = frozenset({
    "trace_printk", "get_current_comm", "get_cgroup_classid", "perf_event_read", "get_current_task",
    "current_task_under_cgroup", "perf_event_read_value", "get_current_cgroup_id", "spin_lock", "spin_unlock",
    "send_signal", "probe_read_user", "probe_read_kernel", "probe_read_user_str", "probe_read_kernel_str",
    "send_signal_thread", "jiffies64", "get_current_ancestor_cgroup_id", "skc_to_tcp6_sock", "skc_to_tcp_sock",
    "skc_to_tcp_timewait_sock", "skc_to_tcp_request_sock", "skc_to_udp6_sock", "get_task_stack",
    "copy_from_user", "snprintf_btf", "per_cpu_ptr", "this_cpu_ptr", "task_storage_get", "task_storage_delete",
    "get_current_task_btf", "for_each_map_elem", "snprintf", "timer_init", "timer_set_callback", "timer_start",
    "timer_cancel", "task_pt_regs", "get_branch_snapshot", "trace_vprintk", "skc_to_unix_sock", "find_vma",
    "loop", "copy_from_user_task", "kptr_xchg", "skc_to_mptcp_sock", "dynptr_from_mem", "ringbuf_reserve_dynptr",
    "ringbuf_submit_dynptr", "ringbuf_discard_dynptr", "dynptr_read", "dynptr_write", "dynptr_data",
    "user_ringbuf_drain", "cgrp_storage_get", "cgrp_storage_delete",
})


def _h(id_, args, ret, types, impl, doc, **kw) -> HelperSpec:
    return HelperSpec(id_, tuple(args), ret, frozenset(types), impl, doc,
                      needs_capability=_NAMES[id_] in _NEED_CAPABILITY, **kw)


HELPERS: dict[int, HelperSpec] = {h.id: h for h in (
    _h(1, [MAP, KEY], "RET_PTR_TO_MAP_VALUE_OR_NULL", ALL, map_ops.map_lookup_elem,
       "pointer to the value stored under key, or NULL"),
    _h(2, [MAP, KEY, "ARG_PTR_TO_MAP_VALUE", ANY], INT, ALL, map_ops.map_update_elem,
       "create or replace an element (flags BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2)"),
    _h(3, [MAP, KEY], INT, ALL, map_ops.map_delete_elem, "delete an element (-ENOENT if absent)"),
    _h(4, [UNINIT, SIZE0, ANY], INT, TRACING, trace.probe_read, "read kernel or user memory (legacy)", gpl_only=True),
    _h(5, [], INT, ALL, base.ktime_get_ns, "nanoseconds since boot, not counting suspend"),
    _h(6, [MEM_RO, SIZE], INT, ALL, base.trace_printk,  # r3..r5: ARG_DONTCARE, never checked
       "print a formatted line (at most 3 arguments) to trace_pipe", gpl_only=True),
    _h(7, [], INT, ALL, base.get_prandom_u32, "a pseudo-random 32-bit number"),
    _h(8, [], INT, ALL, base.get_smp_processor_id, "the id of the CPU the program runs on"),
    _h(9, [CTX, ANY, MEM_RO, SIZE, ANY], INT, TC, net.skb_store_bytes, "write bytes into the packet",
       changes_pkt_data=True),
    _h(10, [CTX, ANY, ANY, ANY, ANY], INT, TC, net.l3_csum_replace,
       "fix the IP checksum after changing a 2- or 4-byte field", changes_pkt_data=True),
    _h(11, [CTX, ANY, ANY, ANY, ANY], INT, TC, net.l4_csum_replace,
       "fix a TCP/UDP checksum after changing a field", changes_pkt_data=True),
    _h(12, [CTX, MAP, ANY], VOID, ALL, map_ops.tail_call,
       "jump to the program in a prog_array slot; returns only if the slot is empty"),
    _h(13, [CTX, ANY, ANY], INT, TC, net.clone_redirect, "send a copy of the packet out of another device",
       changes_pkt_data=True),
    _h(14, [], INT, ALL, base.get_current_pid_tgid, "tgid << 32 | pid of the current task"),
    _h(15, [], INT, ALL, base.get_current_uid_gid, "gid << 32 | uid of the current task"),
    _h(16, [UNINIT, SIZE], INT, ALL, base.get_current_comm, "the current task's name"),
    _h(18, [CTX, ANY, ANY], INT, TC, net.skb_vlan_push, "add a VLAN tag", changes_pkt_data=True),
    _h(19, [CTX], INT, TC, net.skb_vlan_pop, "remove the outer VLAN tag", changes_pkt_data=True),
    _h(23, [ANY, ANY], INT, TC | XDP, net.redirect, "redirect the packet to another device"),
    _h(25, [CTX, MAP, ANY, MEM_RO, SIZE0], INT, ALL, map_ops.perf_event_output,
       "write a record to a perf event buffer"),
    _h(26, [CTX, ANY, UNINIT, SIZE], INT, SKB, net.skb_load_bytes, "copy bytes out of the packet",
       packet_read=(2, 4)),
    _h(28, ["ARG_PTR_TO_MEM|PTR_MAYBE_NULL|MEM_RDONLY", SIZE0, "ARG_PTR_TO_MEM|PTR_MAYBE_NULL|MEM_RDONLY", SIZE0,
            ANY], INT, TC | XDP, net.csum_diff, "checksum difference between two buffers"),
    _h(35, [], INT, ALL, trace.get_current_task, "address of the current task_struct"),
    _h(38, [CTX, ANY, ANY], INT, TC, net.skb_change_tail, "resize the packet", changes_pkt_data=True),
    _h(42, [], INT, ALL, base.get_numa_node_id, "the NUMA node of the current CPU"),
    _h(43, [CTX, ANY, ANY], INT, TC, net.skb_change_head, "add room in front of the packet",
       changes_pkt_data=True),
    _h(44, [CTX, ANY], INT, XDP, net.xdp_adjust_head, "move the start of the packet", changes_pkt_data=True),
    _h(45, [UNINIT, SIZE0, ANY], INT, TRACING, trace.probe_read_str, "read a string (legacy)", gpl_only=True),
    _h(46, [CTX], INT, SKB | {"cgroup_sock_addr"}, net.get_socket_cookie,
       "the cookie that names the socket (env.socket_cookie)"),
    _h(47, [CTX], INT, SKB, net.get_socket_uid, "the uid that owns the packet's socket (env.socket_uid)"),
    _h(51, [MAP, ANY, ANY], INT, XDP, net.redirect_map, "redirect through a devmap slot (or take the fallback)"),
    _h(54, [CTX, ANY], INT, XDP, net.xdp_adjust_meta, "move the start of the metadata", changes_pkt_data=True),
    _h(67, [CTX, UNINIT, SIZE0, ANY], INT, TRACING, trace.get_stack,
       "copy the current kernel or user stack (instruction addresses) into a buffer", gpl_only=True),
    _h(65, [CTX, ANY], INT, XDP, net.xdp_adjust_tail, "move the end of the packet", changes_pkt_data=True),
    _h(80, [], INT, ALL, base.get_current_cgroup_id, "the cgroup v2 id of the current task"),
    _h(87, [MAP, "ARG_PTR_TO_MAP_VALUE", ANY], INT, ALL, map_ops.map_push_elem,
       "push onto a queue, stack or bloom filter"),
    _h(88, [MAP, "ARG_PTR_TO_MAP_VALUE|MEM_UNINIT"], INT, ALL, map_ops.map_pop_elem,
       "pop from a queue or stack"),
    _h(89, [MAP, "ARG_PTR_TO_MAP_VALUE|MEM_UNINIT"], INT, ALL, map_ops.map_peek_elem,
       "read the head of a queue or stack; test a bloom filter"),
    _h(93, ["ARG_PTR_TO_SPIN_LOCK"], VOID, ALL, base.spin_lock, "take the spin lock in a map value"),
    _h(94, ["ARG_PTR_TO_SPIN_LOCK"], VOID, ALL, base.spin_unlock, "release the spin lock"),
    _h(112, [UNINIT, SIZE0, ANY], INT, ALL, trace.probe_read_user, "read user memory", gpl_only=True),
    _h(113, [UNINIT, SIZE0, ANY], INT, ALL, trace.probe_read_kernel, "read kernel memory", gpl_only=True),
    _h(114, [UNINIT, SIZE0, ANY], INT, ALL, trace.probe_read_user_str, "read a string from user memory",
       gpl_only=True),
    _h(115, [UNINIT, SIZE0, ANY], INT, ALL, trace.probe_read_kernel_str, "read a string from kernel memory",
       gpl_only=True),
    _h(118, [], INT, ALL, base.jiffies64, "timer ticks since boot"),
    _h(125, [], INT, ALL, base.ktime_get_boot_ns, "nanoseconds since boot, including suspend"),
    _h(130, [MAP, MEM_RO, SIZE0, ANY], INT, ALL, map_ops.ringbuf_output, "copy a record into a ring buffer"),
    _h(131, [MAP, "ARG_CONST_ALLOC_SIZE_OR_ZERO", ANY], "RET_PTR_TO_RINGBUF_MEM_OR_NULL", ALL,
       map_ops.ringbuf_reserve, "reserve a ring buffer record (must be submitted or discarded)"),
    _h(132, ["ARG_PTR_TO_RINGBUF_MEM|OBJ_RELEASE", ANY], VOID, ALL, map_ops.ringbuf_submit,
       "publish a reserved record"),
    _h(133, ["ARG_PTR_TO_RINGBUF_MEM|OBJ_RELEASE", ANY], VOID, ALL, map_ops.ringbuf_discard,
       "drop a reserved record"),
    _h(134, [MAP, ANY], INT, ALL, map_ops.ringbuf_query, "ring buffer positions and sizes"),
    _h(160, [], INT, ALL - TRACING, base.ktime_get_coarse_ns, "nanoseconds since boot at the last timer tick"),
    _h(164, [MAP, "ARG_PTR_TO_FUNC", "ARG_PTR_TO_STACK_OR_NULL", ANY], INT, ALL, map_ops.for_each_map_elem,
       "call a function for each element of a map"),
    _h(165, ["ARG_PTR_TO_MEM_OR_NULL|MEM_UNINIT", SIZE0, "ARG_PTR_TO_CONST_STR",
             "ARG_PTR_TO_MEM|PTR_MAYBE_NULL|MEM_RDONLY", SIZE0], INT, ALL, base.snprintf,
       "format a string into a buffer"),
    _h(173, [CTX], INT, TRACING, trace.get_func_ip, "address of the probed function"),
    _h(177, [MEM_RO, SIZE, "ARG_PTR_TO_MEM|PTR_MAYBE_NULL|MEM_RDONLY", SIZE0], INT, ALL, base.trace_vprintk,
       "print a formatted line with any number of arguments (bpf_printk)", gpl_only=True),
    _h(181, [ANY, "ARG_PTR_TO_FUNC", "ARG_PTR_TO_STACK_OR_NULL", ANY], INT, ALL, base.loop,
       "call a function up to n times"),
    _h(182, [MEM_RO, SIZE, "ARG_PTR_TO_CONST_STR"], INT, ALL, base.strncmp, "compare with a constant string"),
    _h(195, [MAP, KEY, ANY], "RET_PTR_TO_MAP_VALUE_OR_NULL", ALL, map_ops.map_lookup_percpu_elem,
       "pointer to another CPU's value in a per-CPU map"),
    _h(208, [], INT, ALL, base.ktime_get_tai_ns, "CLOCK_TAI nanoseconds"),
)}


def helpers_for(prog_type: str) -> dict[int, "Helper"]:
    """The helpers a program of this type may call, ready for the VM (``raw`` programs get them all)."""
    from .vm.machine import Helper

    out = {}
    for spec in HELPERS.values():
        if spec.impl is None or (prog_type != "raw" and prog_type not in spec.prog_types):
            continue
        out[spec.id] = Helper(spec.id, spec.name, spec.impl, spec.doc)
    return out


def helper_name(helper_id: int) -> str | None:
    return HELPER_NAMES.get(helper_id)


def helper_id(name: str) -> int | None:
    """Id of ``bpf_map_lookup_elem`` or ``map_lookup_elem``; None if unknown."""
    return HELPER_IDS.get(name if name.startswith("bpf_") else "bpf_" + name)


def missing_helper_message(helper_id: int, prog_type: str) -> str:
    """Why a program of ``prog_type`` cannot call ``helper_id`` here, in the kernel's words where it has some."""
    name = HELPER_NAMES.get(helper_id)
    if name is None:
        return f"invalid func unknown#{helper_id}: there is no helper with this id"
    spec = HELPERS.get(helper_id)
    if spec is None or spec.impl is None:
        return f"helper {name}#{helper_id} is not available in the playground"
    return f"program of this type cannot use helper {name}#{helper_id} ({prog_type})"


def helper_available(func_id: int, prog_type: str, privileged: bool = True) -> bool:
    """Whether a program of ``prog_type`` may call helper ``func_id`` (the type's ``get_func_proto`` offers it):
    a helper of the table for that type, and for an unprivileged loader one that needs no capability."""
    spec = HELPERS.get(func_id)
    return spec is not None and prog_type in spec.prog_types and (privileged or not spec.needs_capability)
