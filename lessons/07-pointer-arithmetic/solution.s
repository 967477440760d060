# Drop UDP packets to port 9 (the "discard" service), pass everything else.
# The IPv4 header is IHL * 4 bytes long (20 to 60), so the UDP header's
# place is computed at run time and checked against data_end again.
    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r4 = r2
    r4 += 34                    # Ethernet (14) + the shortest IPv4 header (20)
    if r4 > r3 goto pass
    r4 = *(u16 *)(r2 + 12)      # EtherType, network order
    if r4 != 0x8 goto pass      # IPv4 (0x0800) reads as 0x0008
    r4 = *(u8 *)(r2 + 23)       # IPv4 protocol
    if r4 != 17 goto pass       # UDP only

    r4 = *(u8 *)(r2 + 14)       # version (high 4 bits) and IHL (low 4 bits)
    r4 &= 0xf                   # IHL: now the verifier knows 0..15
    if r4 < 5 goto pass         # a header shorter than 20 bytes is malformed
    r4 <<= 2                    # header length in bytes: 20..60

    r5 = r2
    r5 += 14                    # the IPv4 header
    r5 += r4                    # the UDP header: a variable offset
    r6 = r5
    r6 += 8                     # the end of the UDP header
    if r6 > r3 goto pass        # check again: the old check said nothing about r5
    r4 = *(u16 *)(r5 + 2)       # UDP destination port, network order
    if r4 != 0x900 goto pass    # port 9 is 00 09, read as 0x0900
    r0 = 1                      # XDP_DROP
    exit
pass:
    r0 = 2                      # XDP_PASS
    exit
