# Count IPv4 packets per source address, and pass every packet.
# src_count is a hash map: key = the 4 source address bytes as they
# appear in the packet, value = a u64 count. It holds at most 3
# sources; packets from a source it has no room for must be counted
# in overflow[0].
#
# The verifier accepts this program, but it counts nothing. Run a test
# and look at src_count. Then:
#   1. fix the flag of the insert (see the table in the text);
#   2. when the insert answers -E2BIG (-7), add 1 to overflow[0].
.map src_count type=hash key_size=4 value_size=8 max_entries=3
.map overflow type=array key_size=4 value_size=8 max_entries=1

    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r4 = r2
    r4 += 34                    # Ethernet (14) + IPv4 header (20)
    if r4 > r3 goto pass
    r4 = *(u16 *)(r2 + 12)      # EtherType, network order
    if r4 != 0x8 goto pass      # IPv4 only
    r4 = *(u32 *)(r2 + 26)      # the source address, bytes in packet order
    *(u32 *)(r10 - 4) = r4      # the key

    # A source seen before: add 1 to its count, in place.
    r1 = src_count ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto insert
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
    goto pass

insert:
    # A new source: insert it with a count of 1.
    r1 = 1
    *(u64 *)(r10 - 16) = r1     # the value, on the stack too
    r1 = src_count ll
    r2 = r10
    r2 += -4                    # the key
    r3 = r10
    r3 += -16                   # the value
    r4 = 2                      # BPF_EXIST
    call bpf_map_update_elem    # 0, or a negative error
    # TODO: on -E2BIG (-7), add 1 to overflow[0]

pass:
    r0 = 2                      # XDP_PASS
    exit
