# A TC program that polices IPv4: it drops (TC_ACT_SHOT, 2) IPv4 frames
# longer than 1000 bytes and lets everything else through (TC_ACT_OK, 0).
#
# The verifier refuses one of the context loads. Check it, look up the
# offset and size it names in struct __sk_buff, and fix that load.
r2 = *(u64 *)(r1 + 0)     # r2 = skb->len
r3 = *(u16 *)(r1 + 16)    # r3 = skb->protocol: a narrow load of its 2 bytes
r3 = be16 r3              # network to host byte order
r0 = 0                    # TC_ACT_OK
if r3 != 0x0800 goto out  # not IPv4: let it through
if r2 <= 1000 goto out    # short enough: let it through
r0 = 2                    # TC_ACT_SHOT: drop it
out:
exit
