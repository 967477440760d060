# Pass IPv4 frames that hold a whole IPv4 header; drop everything else.
r2 = *(u32 *)(r1 + 0)     # r2 = data: the first byte of the frame
r3 = *(u32 *)(r1 + 4)     # r3 = data_end: one past the last byte
r0 = 1                    # XDP_DROP, unless every check below passes

r4 = r2
r4 += 34                  # Ethernet header (14) + IPv4 header (20)
if r4 > r3 goto out       # fewer than 34 bytes: drop
                          # from here on, bytes 0..33 may be read (r=34)
r5 = *(u16 *)(r2 + 12)    # the EtherType, in network byte order
r5 = be16 r5
if r5 != 0x0800 goto out  # not IPv4: drop
r5 = *(u8 *)(r2 + 14)     # IPv4: version (high 4 bits) and header length
r5 >>= 4
if r5 != 4 goto out       # not version 4: drop
r0 = 2                    # XDP_PASS
out:
exit
