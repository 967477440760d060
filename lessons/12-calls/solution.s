# Drop UDP to port 9 (discard) and to port 19 (chargen), pass everything else.
# One function does the parsing; the main program calls it once per port.

    r6 = r1                     # the context: r6-r9 survive a call, r1-r5 do not
    r2 = 9
    call is_udp_port            # is_udp_port(ctx, 9)
    if r0 != 0 goto drop
    r1 = r6                     # the arguments again: the first call clobbered r1-r5
    r2 = 19
    call is_udp_port            # is_udp_port(ctx, 19)
    if r0 != 0 goto drop
    r0 = 2                      # XDP_PASS
    exit
drop:
    r0 = 1                      # XDP_DROP
    exit

# is_udp_port(r1 = ctx, r2 = port): r0 = 1 if the packet is IPv4 (no options) + UDP
# with destination port r2, else 0. It sees only r1-r5 and its own stack.
is_udp_port:
    r0 = 0                      # the answer, unless everything matches
    r3 = *(u32 *)(r1 + 0)       # ctx->data
    r4 = *(u32 *)(r1 + 4)       # ctx->data_end
    r5 = r3
    r5 += 42                    # Ethernet (14) + IPv4 (20) + UDP (8)
    if r5 > r4 goto out
    r5 = *(u16 *)(r3 + 12)      # EtherType
    if r5 != 0x8 goto out       # IPv4
    r5 = *(u8 *)(r3 + 14)       # version and header length
    if r5 != 0x45 goto out      # IPv4, 20-byte header
    r5 = *(u8 *)(r3 + 23)       # protocol
    if r5 != 17 goto out        # UDP
    r5 = *(u16 *)(r3 + 36)      # destination port, network order
    r5 = be16 r5                # host order
    if r5 != r2 goto out
    r0 = 1
out:
    exit
