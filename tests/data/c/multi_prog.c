/* Several programs in one object, sharing a subprogram and a ring buffer. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(key_size, 4);
	__uint(value_size, 8);
	__uint(max_entries, 16);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} by_pid SEC(".maps");

static __noinline int twice(int x)
{
	return 2 * x;
}

SEC("xdp")
int first_xdp(struct xdp_md *ctx)
{
	return twice(1);  /* XDP_PASS */
}

SEC("xdp")
int second_xdp(struct xdp_md *ctx)
{
	return twice(0) + XDP_DROP;
}

SEC("tc")
int classify(struct __sk_buff *skb)
{
	return twice(0) + TC_ACT_OK;
}

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(on_unlink, int dfd, void *name)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	__u64 *seen = bpf_map_lookup_elem(&by_pid, &pid);

	if (!seen)
		bpf_ringbuf_output(&events, &pid, sizeof(pid), 0);
	return dfd;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(void *ctx)
{
	bpf_printk("openat %d", twice(3));
	return 0;
}

SEC("cgroup/connect4")
int on_connect4(struct bpf_sock_addr *ctx)
{
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
