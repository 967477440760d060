# Keep IPv4 packets whole and drop everything else.
# skb->protocol (offset 16) holds the EtherType in network byte order.
#
# This version saves the EtherType on the stack and reads it back, but the
# verifier refuses it. Check it and read the message. Once it loads, check
# again: is the value read back really 0x0800 for an IPv4 packet?
r6 = *(u32 *)(r1 + 0)     # r6 = skb->len, the answer when we keep the packet
r2 = *(u32 *)(r1 + 16)    # r2 = skb->protocol
*(u32 *)(r10 + 0) = r2    # save it on the stack
r3 = *(u16 *)(r10 + 0)    # read the EtherType back
r0 = 0                    # drop, unless it is IPv4
if r3 != 0x0800 goto out
r0 = r6                   # IPv4: keep all of it
out:
exit
