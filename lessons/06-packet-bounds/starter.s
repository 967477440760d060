# Pass IPv4 frames (XDP_PASS) and drop everything else (XDP_DROP), including
# frames too short to hold an Ethernet header and an IPv4 header (34 bytes).
#
# This program reads the EtherType without proving that the frame is long
# enough, and the verifier refuses it. Check it, then add the bounds check:
# compare data + 34 with data_end before reading any packet byte.
r2 = *(u32 *)(r1 + 0)     # r2 = data: the first byte of the frame
r3 = *(u32 *)(r1 + 4)     # r3 = data_end: one past the last byte
r0 = 1                    # XDP_DROP

r5 = *(u16 *)(r2 + 12)    # the EtherType, in network byte order
r5 = be16 r5
if r5 != 0x0800 goto out  # not IPv4: drop
r5 = *(u8 *)(r2 + 14)     # IPv4: version (high 4 bits) and header length
r5 >>= 4
if r5 != 4 goto out       # not version 4: drop
r0 = 2                    # XDP_PASS
out:
exit
