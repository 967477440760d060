# Police IPv4: drop IPv4 frames longer than 1000 bytes, pass everything else.
r2 = *(u32 *)(r1 + 0)     # r2 = skb->len: a u32, so a 4-byte load
r3 = *(u16 *)(r1 + 16)    # r3 = skb->protocol: a narrow load of its 2 bytes
r3 = be16 r3              # network to host byte order
r0 = 0                    # TC_ACT_OK
if r3 != 0x0800 goto out  # not IPv4: let it through
if r2 <= 1000 goto out    # short enough: let it through
r0 = 2                    # TC_ACT_SHOT: drop it
out:
exit
