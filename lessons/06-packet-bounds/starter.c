/* Pass IPv4 frames (XDP_PASS) and drop everything else (XDP_DROP), including
 * frames too short to hold an Ethernet header and an IPv4 header (34 bytes).
 *
 * This program reads the headers without proving that the frame is long
 * enough, and the verifier refuses it. Check it, then add the bounds check:
 * before the first read, drop the frame when (void *)(ip + 1) > data_end. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int ipv4_only(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_DROP;
	if (ip->version != 4)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
