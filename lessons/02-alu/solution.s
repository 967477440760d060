# Keep three quarters of every packet, rounded down: len * 3 / 4.
r0 = *(u32 *)(r1 + 0)   # r0 = skb->len (a u32, so the upper half is 0)
r0 *= 3                 # multiply first: 34 * 3 = 102
r0 /= 4                 # then divide, rounding down: 102 / 4 = 25
exit                    # r0 bytes are kept; 0 drops the packet
