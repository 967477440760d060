/* Count IPv4 packets per IP protocol, and pass every packet.
 * proto_count is an array of 256 counters: the key is the protocol
 * number (1 ICMP, 6 TCP, 17 UDP ...), the value a u64.
 *
 * The verifier refuses this program. Check it, read its message, and
 * add the test it asks for. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 256);
} proto_count SEC(".maps");

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	__u32 key = ip->protocol;          /* the key, on the stack */
	__u64 *count = bpf_map_lookup_elem(&proto_count, &key);
	__sync_fetch_and_add(count, 1);    /* add 1, atomically */
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
