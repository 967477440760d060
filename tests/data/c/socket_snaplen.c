/* Socket filter: keep at most SNAPLEN bytes of each packet (the return value is the length kept). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SNAPLEN 64

SEC("socket")
int socket_snaplen(struct __sk_buff *skb)
{
	if (skb->len < SNAPLEN)
		return skb->len;
	return SNAPLEN;
}

char LICENSE[] SEC("license") = "GPL";
