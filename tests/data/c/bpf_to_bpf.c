/* bpf-to-bpf calls: the program calls non-inlined functions that clang puts in .text. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __noinline int is_ipv4(void *data, void *data_end)
{
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return 0;
	return eth->h_proto == bpf_htons(ETH_P_IP);
}

__noinline int verdict(int ipv4)
{
	return ipv4 ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int xdp_calls(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	return verdict(is_ipv4(data, data_end));
}

char LICENSE[] SEC("license") = "GPL";
