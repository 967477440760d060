/* Report every IPv4 packet to user space through the ring buffer `events`.
 * A record is 8 bytes: the source address as it is in the packet, then the
 * IP protocol number. Every packet is passed.
 *
 * This program reserves the record first and parses the packet after.
 * Check it: some paths return while still holding the record. Give it back
 * there with bpf_ringbuf_discard(rec, 0), or reserve after the checks. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct record {
	__u32 saddr;     /* network order, as in the packet */
	__u32 protocol;
};

SEC("xdp")
int report_ipv4(struct xdp_md *ctx)
{
	struct record *rec = bpf_ringbuf_reserve(&events, sizeof(*rec), 0);
	if (!rec)
		return XDP_PASS;

	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;

	rec->saddr = ip->saddr;
	rec->protocol = ip->protocol;
	bpf_ringbuf_submit(rec, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
