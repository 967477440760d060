# A hop program. Each run takes one off the packet's IPv4 TTL, counts
# itself in hops[0], and tail-calls progs[0]: the tests put this same
# program in slot 0 (or leave the slot empty). A packet whose TTL is 1
# or less is dropped; one the chain gives up on is passed.
.map progs type=prog_array key_size=4 value_size=4 max_entries=4
.map hops type=array key_size=4 value_size=8 max_entries=1

    r6 = r1                     # keep the context: calls clobber r1-r5
    r7 = *(u32 *)(r6 + 0)       # ctx->data (r7 survives the calls)
    r3 = *(u32 *)(r6 + 4)       # ctx->data_end
    r4 = r7
    r4 += 34                    # Ethernet (14) + IPv4 header (20)
    if r4 > r3 goto pass
    r4 = *(u16 *)(r7 + 12)      # EtherType, network order
    if r4 != 0x8 goto pass      # IPv4 only

    # Count this run. The count lives in a map: a tail call keeps no
    # registers but r1, and the next program cannot rely on the stack.
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r1 = hops ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto pass
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1

    # The TTL is the state that travels with the packet from run to run.
    r4 = *(u8 *)(r7 + 22)       # IPv4 TTL
    if r4 <= 1 goto drop
    r4 += -1
    *(u8 *)(r7 + 22) = r4       # (a real router would fix the checksum too)

    r1 = r6                     # the context
    r2 = progs ll               # a prog_array
    r3 = 0                      # the slot
    call bpf_tail_call          # on success, this run ends here

    # Reached only when the tail call failed: an empty slot, or this
    # packet's 33 tail calls are used up. r0 was not set by the call.
pass:
    r0 = 2                      # XDP_PASS
    exit
drop:
    r0 = 1                      # XDP_DROP
    exit
