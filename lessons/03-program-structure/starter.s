# A snap-length filter, like tcpdump's: keep at most 96 bytes of each packet,
# and drop packets shorter than 20 bytes (too short for an IPv4 header).
#
# The logic is nearly right, but the verifier refuses the program before it
# checks anything else. Check it, read the message, and fix the shape.
r0 = *(u32 *)(r1 + 0)   # r0 = skb->len
if r0 < 20 goto drop    # too short: drop it
if r0 > 96 goto cut     # too long: cut it
exit                    # 20..96 bytes: keep the whole packet
r0 = 96                 # keep only the first 96 bytes
cut:
exit

drop:
r0 = 0
exit
