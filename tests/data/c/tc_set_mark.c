/* TC classifier: mark every packet (skb->mark is writable here) and let it through. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#define MARK 0x2a

SEC("tc")
int tc_set_mark(struct __sk_buff *skb)
{
	skb->mark = MARK;
	skb->priority = skb->len > 100 ? 1 : 0;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
