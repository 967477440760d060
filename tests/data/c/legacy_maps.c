/* A legacy map definition (struct bpf_map_def in SEC("maps")), as in old samples/bpf programs. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") counters = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 64,
	.map_flags = 1,  /* BPF_F_NO_PREALLOC */
};

SEC("socket")
int count_lengths(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u64 one = 1, *count = bpf_map_lookup_elem(&counters, &len);

	if (count)
		__sync_fetch_and_add(count, 1);
	else
		bpf_map_update_elem(&counters, &len, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
