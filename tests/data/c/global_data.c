/* Global data: a read-only configuration in .rodata, counters in .bss, a mutable setting in .data. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u8 blocked_proto = 17;  /* UDP; user space may change it before loading */
__u64 packets;                           /* .bss */
__u64 dropped;                           /* .bss */
__u32 verdict_for_short = XDP_PASS;      /* .data */

SEC("xdp")
int xdp_global_data(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	packets++;
	if ((void *)(ip + 1) > data_end)
		return verdict_for_short;
	if (eth->h_proto == bpf_htons(ETH_P_IP) && ip->protocol == blocked_proto) {
		dropped++;
		return XDP_DROP;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
