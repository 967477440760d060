"""C prototypes of the Linux helpers, for the header that restricted C programs include.

The helper table (:mod:`app.ebpf.helpers`) holds what the *verifier* checks (``ARG_PTR_TO_MAP_KEY``,
``RET_INTEGER`` ...). A C compiler needs C types, which that vocabulary does not determine (an
``ARG_ANYTHING`` may be a flags word, an ifindex or a pointer). So this module keeps a small table of C
signatures, written from the helper descriptions in ``include/uapi/linux/bpf.h`` with libbpf's conventions
(``void *`` for maps and contexts, so that a program needs no casts), and derives a signature from the
helper table's argument kinds for any helper the table lacks.

A helper is declared the way every BPF loader expects: a constant function pointer whose value is the
helper's id, ``static long (* const bpf_redirect)(__u32 ifindex, __u64 flags) = (void *) 23;``. Clang
turns a call through it into ``call 23``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..helpers import HELPER_IDS, HELPERS, HelperSpec

# ``return-type name(parameters)``, one per helper, in id order. Struct types that appear here are declared
# (forward) at the top of the generated header, so each prototype stands on its own.
_SIGNATURES = """
void *bpf_map_lookup_elem(void *map, const void *key)
long bpf_map_update_elem(void *map, const void *key, const void *value, __u64 flags)
long bpf_map_delete_elem(void *map, const void *key)
long bpf_probe_read(void *dst, __u32 size, const void *unsafe_ptr)
__u64 bpf_ktime_get_ns(void)
long bpf_trace_printk(const char *fmt, __u32 fmt_size, ...)
__u32 bpf_get_prandom_u32(void)
__u32 bpf_get_smp_processor_id(void)
long bpf_skb_store_bytes(void *skb, __u32 offset, const void *from, __u32 len, __u64 flags)
long bpf_l3_csum_replace(void *skb, __u32 offset, __u64 from, __u64 to, __u64 size)
long bpf_l4_csum_replace(void *skb, __u32 offset, __u64 from, __u64 to, __u64 flags)
long bpf_tail_call(void *ctx, void *prog_array_map, __u32 index)
long bpf_clone_redirect(void *skb, __u32 ifindex, __u64 flags)
__u64 bpf_get_current_pid_tgid(void)
__u64 bpf_get_current_uid_gid(void)
long bpf_get_current_comm(void *buf, __u32 size_of_buf)
__u32 bpf_get_cgroup_classid(void *skb)
long bpf_skb_vlan_push(void *skb, __be16 vlan_proto, __u16 vlan_tci)
long bpf_skb_vlan_pop(void *skb)
long bpf_skb_get_tunnel_key(void *skb, struct bpf_tunnel_key *key, __u32 size, __u64 flags)
long bpf_skb_set_tunnel_key(void *skb, struct bpf_tunnel_key *key, __u32 size, __u64 flags)
__u64 bpf_perf_event_read(void *map, __u64 flags)
long bpf_redirect(__u32 ifindex, __u64 flags)
__u32 bpf_get_route_realm(void *skb)
long bpf_perf_event_output(void *ctx, void *map, __u64 flags, void *data, __u64 size)
long bpf_skb_load_bytes(const void *skb, __u32 offset, void *to, __u32 len)
long bpf_get_stackid(void *ctx, void *map, __u64 flags)
__s64 bpf_csum_diff(__be32 *from, __u32 from_size, __be32 *to, __u32 to_size, __wsum seed)
long bpf_skb_get_tunnel_opt(void *skb, void *opt, __u32 size)
long bpf_skb_set_tunnel_opt(void *skb, void *opt, __u32 size)
long bpf_skb_change_proto(void *skb, __be16 proto, __u64 flags)
long bpf_skb_change_type(void *skb, __u32 type)
long bpf_skb_under_cgroup(void *skb, void *map, __u32 index)
__u32 bpf_get_hash_recalc(void *skb)
__u64 bpf_get_current_task(void)
long bpf_probe_write_user(void *dst, const void *src, __u32 len)
long bpf_current_task_under_cgroup(void *map, __u32 index)
long bpf_skb_change_tail(void *skb, __u32 len, __u64 flags)
long bpf_skb_pull_data(void *skb, __u32 len)
__s64 bpf_csum_update(void *skb, __wsum csum)
void bpf_set_hash_invalid(void *skb)
long bpf_get_numa_node_id(void)
long bpf_skb_change_head(void *skb, __u32 len, __u64 flags)
long bpf_xdp_adjust_head(void *xdp_md, int delta)
long bpf_probe_read_str(void *dst, __u32 size, const void *unsafe_ptr)
__u64 bpf_get_socket_cookie(void *ctx)
__u32 bpf_get_socket_uid(void *skb)
long bpf_set_hash(void *skb, __u32 hash)
long bpf_setsockopt(void *bpf_socket, int level, int optname, void *optval, int optlen)
long bpf_skb_adjust_room(void *skb, __s32 len_diff, __u32 mode, __u64 flags)
long bpf_redirect_map(void *map, __u64 key, __u64 flags)
long bpf_sk_redirect_map(void *skb, void *map, __u32 key, __u64 flags)
long bpf_sock_map_update(void *skops, void *map, void *key, __u64 flags)
long bpf_xdp_adjust_meta(void *xdp_md, int delta)
long bpf_perf_event_read_value(void *map, __u64 flags, struct bpf_perf_event_value *buf, __u32 buf_size)
long bpf_perf_prog_read_value(void *ctx, struct bpf_perf_event_value *buf, __u32 buf_size)
long bpf_getsockopt(void *bpf_socket, int level, int optname, void *optval, int optlen)
long bpf_override_return(void *regs, __u64 rc)
long bpf_sock_ops_cb_flags_set(void *bpf_sock, int argval)
long bpf_msg_redirect_map(void *msg, void *map, __u32 key, __u64 flags)
long bpf_msg_apply_bytes(void *msg, __u32 bytes)
long bpf_msg_cork_bytes(void *msg, __u32 bytes)
long bpf_msg_pull_data(void *msg, __u32 start, __u32 end, __u64 flags)
long bpf_bind(void *ctx, struct sockaddr *addr, int addr_len)
long bpf_xdp_adjust_tail(void *xdp_md, int delta)
long bpf_skb_get_xfrm_state(void *skb, __u32 index, struct bpf_xfrm_state *xfrm_state, __u32 size, __u64 flags)
long bpf_get_stack(void *ctx, void *buf, __u32 size, __u64 flags)
long bpf_skb_load_bytes_relative(const void *skb, __u32 offset, void *to, __u32 len, __u32 start_header)
long bpf_fib_lookup(void *ctx, struct bpf_fib_lookup *params, int plen, __u32 flags)
long bpf_sock_hash_update(void *skops, void *map, void *key, __u64 flags)
long bpf_msg_redirect_hash(void *msg, void *map, void *key, __u64 flags)
long bpf_sk_redirect_hash(void *skb, void *map, void *key, __u64 flags)
long bpf_lwt_push_encap(void *skb, __u32 type, void *hdr, __u32 len)
__u64 bpf_skb_cgroup_id(void *skb)
__u64 bpf_get_current_cgroup_id(void)
void *bpf_get_local_storage(void *map, __u64 flags)
long bpf_sk_select_reuseport(void *reuse, void *map, void *key, __u64 flags)
__u64 bpf_skb_ancestor_cgroup_id(void *skb, int ancestor_level)
struct bpf_sock *bpf_sk_lookup_tcp(void *ctx, struct bpf_sock_tuple *tuple, __u32 tuple_size, __u64 netns, __u64 flags)
struct bpf_sock *bpf_sk_lookup_udp(void *ctx, struct bpf_sock_tuple *tuple, __u32 tuple_size, __u64 netns, __u64 flags)
long bpf_sk_release(void *sock)
long bpf_map_push_elem(void *map, const void *value, __u64 flags)
long bpf_map_pop_elem(void *map, void *value)
long bpf_map_peek_elem(void *map, void *value)
long bpf_msg_push_data(void *msg, __u32 start, __u32 len, __u64 flags)
long bpf_msg_pop_data(void *msg, __u32 start, __u32 len, __u64 flags)
long bpf_spin_lock(struct bpf_spin_lock *lock)
long bpf_spin_unlock(struct bpf_spin_lock *lock)
struct bpf_sock *bpf_sk_fullsock(struct bpf_sock *sk)
struct bpf_tcp_sock *bpf_tcp_sock(struct bpf_sock *sk)
long bpf_skb_ecn_set_ce(void *skb)
struct bpf_sock *bpf_get_listener_sock(struct bpf_sock *sk)
struct bpf_sock *bpf_skc_lookup_tcp(void *ctx, struct bpf_sock_tuple *tuple, __u32 tuple_size, __u64 netns, __u64 flags)
long bpf_tcp_check_syncookie(void *sk, void *iph, __u32 iph_len, struct tcphdr *th, __u32 th_len)
long bpf_strtol(const char *buf, unsigned long buf_len, __u64 flags, long *res)
long bpf_strtoul(const char *buf, unsigned long buf_len, __u64 flags, unsigned long *res)
void *bpf_sk_storage_get(void *map, void *sk, void *value, __u64 flags)
long bpf_sk_storage_delete(void *map, void *sk)
long bpf_send_signal(__u32 sig)
__s64 bpf_tcp_gen_syncookie(void *sk, void *iph, __u32 iph_len, struct tcphdr *th, __u32 th_len)
long bpf_skb_output(void *ctx, void *map, __u64 flags, void *data, __u64 size)
long bpf_probe_read_user(void *dst, __u32 size, const void *unsafe_ptr)
long bpf_probe_read_kernel(void *dst, __u32 size, const void *unsafe_ptr)
long bpf_probe_read_user_str(void *dst, __u32 size, const void *unsafe_ptr)
long bpf_probe_read_kernel_str(void *dst, __u32 size, const void *unsafe_ptr)
long bpf_tcp_send_ack(void *tp, __u32 rcv_nxt)
long bpf_send_signal_thread(__u32 sig)
__u64 bpf_jiffies64(void)
long bpf_get_ns_current_pid_tgid(__u64 dev, __u64 ino, struct bpf_pidns_info *nsdata, __u32 size)
long bpf_xdp_output(void *ctx, void *map, __u64 flags, void *data, __u64 size)
__u64 bpf_get_netns_cookie(void *ctx)
__u64 bpf_get_current_ancestor_cgroup_id(int ancestor_level)
long bpf_sk_assign(void *ctx, void *sk, __u64 flags)
__u64 bpf_ktime_get_boot_ns(void)
__u64 bpf_sk_cgroup_id(void *sk)
__u64 bpf_sk_ancestor_cgroup_id(void *sk, int ancestor_level)
long bpf_ringbuf_output(void *ringbuf, void *data, __u64 size, __u64 flags)
void *bpf_ringbuf_reserve(void *ringbuf, __u64 size, __u64 flags)
void bpf_ringbuf_submit(void *data, __u64 flags)
void bpf_ringbuf_discard(void *data, __u64 flags)
__u64 bpf_ringbuf_query(void *ringbuf, __u64 flags)
long bpf_csum_level(void *skb, __u64 level)
long bpf_get_task_stack(void *task, void *buf, __u32 size, __u64 flags)
long bpf_copy_from_user(void *dst, __u32 size, const void *user_ptr)
__u64 bpf_skb_cgroup_classid(void *skb)
long bpf_redirect_neigh(__u32 ifindex, struct bpf_redir_neigh *params, int plen, __u64 flags)
void *bpf_per_cpu_ptr(const void *percpu_ptr, __u32 cpu)
void *bpf_this_cpu_ptr(const void *percpu_ptr)
long bpf_redirect_peer(__u32 ifindex, __u64 flags)
void *bpf_task_storage_get(void *map, void *task, void *value, __u64 flags)
long bpf_task_storage_delete(void *map, void *task)
void *bpf_get_current_task_btf(void)
__u64 bpf_ktime_get_coarse_ns(void)
long bpf_check_mtu(void *ctx, __u32 ifindex, __u32 *mtu_len, __s32 len_diff, __u64 flags)
long bpf_for_each_map_elem(void *map, void *callback_fn, void *callback_ctx, __u64 flags)
long bpf_snprintf(char *str, __u32 str_size, const char *fmt, __u64 *data, __u32 data_len)
long bpf_timer_init(struct bpf_timer *timer, void *map, __u64 flags)
long bpf_timer_set_callback(struct bpf_timer *timer, void *callback_fn)
long bpf_timer_start(struct bpf_timer *timer, __u64 nsecs, __u64 flags)
long bpf_timer_cancel(struct bpf_timer *timer)
__u64 bpf_get_func_ip(void *ctx)
__u64 bpf_get_attach_cookie(void *ctx)
long bpf_task_pt_regs(void *task)
long bpf_trace_vprintk(const char *fmt, __u32 fmt_size, const void *data, __u32 data_len)
long bpf_loop(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags)
long bpf_strncmp(const char *s1, __u32 s1_sz, const char *s2)
long bpf_get_func_arg(void *ctx, __u32 n, __u64 *value)
long bpf_get_func_ret(void *ctx, __u64 *value)
long bpf_get_func_arg_cnt(void *ctx)
int bpf_get_retval(void)
int bpf_set_retval(int retval)
__u64 bpf_xdp_get_buff_len(void *xdp_md)
long bpf_xdp_load_bytes(void *xdp_md, __u32 offset, void *buf, __u32 len)
long bpf_xdp_store_bytes(void *xdp_md, __u32 offset, void *buf, __u32 len)
long bpf_skb_set_tstamp(void *skb, __u64 tstamp, __u32 tstamp_type)
void *bpf_kptr_xchg(void *map_value, void *ptr)
void *bpf_map_lookup_percpu_elem(void *map, const void *key, __u32 cpu)
long bpf_dynptr_from_mem(void *data, __u32 size, __u64 flags, struct bpf_dynptr *ptr)
long bpf_ringbuf_reserve_dynptr(void *ringbuf, __u32 size, __u64 flags, struct bpf_dynptr *ptr)
void bpf_ringbuf_submit_dynptr(struct bpf_dynptr *ptr, __u64 flags)
void bpf_ringbuf_discard_dynptr(struct bpf_dynptr *ptr, __u64 flags)
long bpf_dynptr_read(void *dst, __u32 len, const struct bpf_dynptr *src, __u32 offset, __u64 flags)
long bpf_dynptr_write(const struct bpf_dynptr *dst, __u32 offset, void *src, __u32 len, __u64 flags)
void *bpf_dynptr_data(const struct bpf_dynptr *ptr, __u32 offset, __u32 len)
__u64 bpf_ktime_get_tai_ns(void)
long bpf_user_ringbuf_drain(void *map, void *sample_cb, void *ctx, __u64 flags)
void *bpf_cgrp_storage_get(void *map, void *cgroup, void *value, __u64 flags)
long bpf_cgrp_storage_delete(void *map, void *cgroup)
"""

_SIG_RE = re.compile(r"^(?P<ret>.+?[\s*])(?P<name>bpf_\w+)\((?P<params>.*)\)$")


@dataclass(frozen=True)
class CPrototype:
    """One helper's C declaration: ``ret`` and ``params`` are C text, ``derived`` is True when the
    signature came from the helper table's argument kinds rather than the table above."""

    id: int
    name: str
    ret: str
    params: tuple[str, ...]
    derived: bool = False

    def declaration(self) -> str:
        """The ``static`` function-pointer declaration that makes clang emit ``call <id>``."""
        params = ", ".join(self.params) or "void"
        ret = self.ret if self.ret.endswith("*") else self.ret + " "
        return f"static {ret}(* const {self.name})({params}) = (void *) {self.id};"

    @property
    def arity(self) -> int | None:
        """Number of fixed arguments (None for a variadic helper such as ``bpf_trace_printk``)."""
        if self.params and self.params[-1] == "...":
            return None
        return len(self.params)


def _parse(line: str) -> tuple[str, str, tuple[str, ...]]:
    m = _SIG_RE.match(line.strip())
    if m is None:
        raise ValueError(f"bad C signature: {line!r}")
    params = tuple(p.strip() for p in m["params"].split(",")) if m["params"] != "void" else ()
    return m["ret"].strip(), m["name"], params


def _c_type_of_arg(kind: str) -> str:
    """A C parameter type for a verifier argument kind (used only where the table has no signature)."""
    base = kind.split("|")[0]
    if base in ("ARG_CONST_SIZE", "ARG_CONST_SIZE_OR_ZERO", "ARG_CONST_ALLOC_SIZE_OR_ZERO"):
        return "__u32"
    if base == "ARG_ANYTHING":
        return "__u64"
    if "MEM_RDONLY" in kind or base in ("ARG_PTR_TO_MAP_KEY", "ARG_PTR_TO_CONST_STR"):
        return "const void *"
    return "void *"


def _c_type_of_ret(kind: str) -> str:
    if kind == "RET_VOID":
        return "void"
    if kind.startswith("RET_PTR"):
        return "void *"
    return "long"


def _derive(spec: HelperSpec) -> CPrototype:
    params = tuple(f"{_c_type_of_arg(a)} arg{i + 1}".replace("* arg", "*arg") for i, a in enumerate(spec.args))
    return CPrototype(spec.id, spec.name, _c_type_of_ret(spec.ret), params, derived=True)


def prototypes() -> list[CPrototype]:
    """Every helper we can declare, in id order: those with a signature in the table above whose name the
    kernel knows, plus every helper of the helper table (signature derived from its argument kinds when
    the table above has none)."""
    out: dict[int, CPrototype] = {}
    for line in _SIGNATURES.strip().splitlines():
        ret, name, params = _parse(line)
        hid = HELPER_IDS.get(name)
        if hid is not None:
            out[hid] = CPrototype(hid, name, ret, params)
    for hid, spec in HELPERS.items():
        if hid not in out:
            out[hid] = _derive(spec)
    return [out[k] for k in sorted(out)]


def forward_structs(protos: list[CPrototype]) -> list[str]:
    """The ``struct`` tags the prototypes mention, sorted, for forward declarations."""
    tags = set()
    for p in protos:
        for text in (p.ret, *p.params):
            tags.update(re.findall(r"\bstruct\s+(\w+)", text))
    return sorted(tags)
