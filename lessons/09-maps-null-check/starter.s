# Count IPv4 packets per IP protocol, and pass every packet.
# proto_count is an array of 256 counters: the key is the protocol
# number (1 ICMP, 6 TCP, 17 UDP ...), the value a u64.
#
# The verifier refuses this program. Check it, read its message, and
# add the one instruction it asks for.
.map proto_count type=array key_size=4 value_size=8 max_entries=256

    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r4 = r2
    r4 += 34                    # Ethernet (14) + IPv4 header (20)
    if r4 > r3 goto pass
    r4 = *(u16 *)(r2 + 12)      # EtherType, network order
    if r4 != 0x8 goto pass      # IPv4 only
    r4 = *(u8 *)(r2 + 23)       # IPv4 protocol: 0..255
    *(u32 *)(r10 - 4) = r4      # the key, written to the stack

    r1 = proto_count ll         # argument 1: the map
    r2 = r10
    r2 += -4                    # argument 2: a pointer to the key
    call bpf_map_lookup_elem    # r0 = a pointer to the value, or NULL
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1 # add 1 to the counter, atomically
pass:
    r0 = 2                      # XDP_PASS
    exit
