# A socket filter answers with the number of bytes of the packet to keep
# (0 drops it). skb->len, a u32 at offset 0 of the context, is the length.
#
# The goal: keep three quarters of every packet, rounded down.
# This version never loads: check it and read the verifier's message.
# Then fix the division (and look at the order of the two steps).
r0 = *(u32 *)(r1 + 0)   # r0 = skb->len
r0 /= 0                 # divide by ... ?
r0 *= 3
exit
