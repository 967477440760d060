# Drop UDP to port 9, even behind up to four VLAN tags (0x8100 or 0x88a8).
# Pass everything else, including packets with five tags or more.
#
# Check it: the loop below never moves past a tag, so it would read the
# same type field forever, and the verifier notices. Make each pass skip
# the 4-byte tag, and count the tags so that the loop stops after four.

    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r2 += 12                    # r2 points at the EtherType
loop:
    r4 = r2
    r4 += 2
    if r4 > r3 goto pass        # the type field must be in the packet
    r4 = *(u16 *)(r2 + 0)       # the type, network order
    if r4 == 0x8 goto ipv4      # 0x0800: IPv4 comes next
    if r4 == 0x81 goto tag      # 0x8100: a VLAN tag
    if r4 != 0xa888 goto pass   # 0x88a8: an outer (QinQ) tag
tag:
    goto loop                   # look at the next type ... or is it?

ipv4:
    r2 += 2                     # r2 points at the IPv4 header
    r4 = r2
    r4 += 20
    if r4 > r3 goto pass
    r4 = *(u8 *)(r2 + 9)        # protocol
    if r4 != 17 goto pass       # UDP
    r4 = *(u8 *)(r2 + 0)        # version and header length
    r4 &= 0xf
    r4 <<= 2                    # header length in bytes
    if r4 < 20 goto pass
    r2 += r4                    # r2 points at the UDP header
    r4 = r2
    r4 += 8
    if r4 > r3 goto pass
    r4 = *(u16 *)(r2 + 2)       # destination port, network order
    if r4 != 0x900 goto pass    # port 9 reads as 0x0900
    r0 = 1                      # XDP_DROP
    exit
pass:
    r0 = 2                      # XDP_PASS
    exit
