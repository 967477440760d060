# Keep IPv4 packets whole and drop everything else.
r6 = *(u32 *)(r1 + 0)     # r6 = skb->len
r2 = *(u32 *)(r1 + 16)    # r2 = skb->protocol: bytes 08 00 for IPv4, in network order
*(u32 *)(r10 - 4) = r2    # store 4 bytes at fp-4 .. fp-1, inside the frame
r3 = *(u16 *)(r10 - 4)    # load the 2 bytes 08 00: little-endian, so r3 = 0x0008
r3 = be16 r3              # swap to host order: r3 = 0x0800
r0 = 0                    # drop, unless it is IPv4
if r3 != 0x0800 goto out  # ETH_P_IP
r0 = r6                   # IPv4: keep the whole packet
out:
exit
