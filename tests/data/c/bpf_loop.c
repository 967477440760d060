/* bpf_loop: a helper that calls back into the program; the callback's address is an ld_imm64 (src 4). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct loop_ctx {
	__u64 sum;
	__u32 len;
};

static long add_index(__u32 index, void *data)
{
	struct loop_ctx *lc = data;

	lc->sum += index;
	return lc->sum > lc->len ? 1 : 0;  /* 1 stops the loop */
}

SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	struct loop_ctx lc = { .sum = 0, .len = ctx->data_end - ctx->data };
	long n = bpf_loop(20, add_index, &lc, 0);

	return (lc.sum + n) % 2 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
