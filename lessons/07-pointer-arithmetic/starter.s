# Drop UDP packets to port 9, pass everything else.
#
# The IPv4 header is not always 20 bytes: its IHL field (the low 4 bits of
# its first byte) gives the length in 4-byte words, and IP options make it
# longer. This program tries to find the UDP header after a header of any
# length, but the verifier refuses it. Check it, read the message, fix that
# line, and check again: there is more than one thing to fix.
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
    w4 &= 0xf                   # IHL (32 bits are plenty for a length)
    w4 <<= 2                    # header length in bytes

    r5 = r2
    r5 += 14                    # the IPv4 header
    w5 += w4                    # the UDP header
    # Is the UDP header inside the packet? And what should a header
    # shorter than 20 bytes (IHL < 5) do?
    r4 = *(u16 *)(r5 + 2)       # UDP destination port, network order
    if r4 != 0x900 goto pass    # port 9 is 00 09, read as 0x0900
    r0 = 1                      # XDP_DROP
    exit
pass:
    r0 = 2                      # XDP_PASS
    exit
