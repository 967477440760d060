# A hop program. Each run should take one off the packet's IPv4 TTL,
# count itself in hops[0], and tail-call progs[0]: the tests put this
# same program in slot 0 (or leave the slot empty). A packet whose TTL
# is 1 or less is dropped; one the chain gives up on is passed.
#
# The verifier refuses this program. Read its message, fix it, and
# check again: there is a second message after the first. Then do the
# TODO, or the chain never ends before the kernel's limit.
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

    # Count this run in hops[0].
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r1 = hops ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto pass
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1

    r4 = *(u8 *)(r7 + 22)       # IPv4 TTL
    if r4 <= 1 goto drop
    # TODO: take one off the TTL and write it back to the packet

    r1 = r6                     # the context
    r2 = hops ll                # the map of programs
    r3 = 0                      # the slot
    call bpf_tail_call
    exit                        # return what the next program returned

pass:
    r0 = 2                      # XDP_PASS
    exit
drop:
    r0 = 1                      # XDP_DROP
    exit
