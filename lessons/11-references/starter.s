# Report every IPv4 packet to user space through the ring buffer `events`.
# A record is 8 bytes: the source address (4 bytes, as in the packet),
# then the IP protocol number as a u32. Every packet is passed.
#
# This program reserves the record first and parses the packet after.
# Check it: one path reaches exit still holding the record. Find that path
# and give the record back there (bpf_ringbuf_discard), or reserve later.
.map events type=ringbuf key_size=0 value_size=0 max_entries=4096

    r6 = r1                     # keep the context: the call clobbers r1-r5
    r1 = events ll
    r2 = 8                      # record size
    r3 = 0                      # flags
    call bpf_ringbuf_reserve    # r0 = the record, or NULL
    if r0 == 0 goto out
    r7 = r0                     # the record
    r2 = *(u32 *)(r6 + 0)       # ctx->data
    r3 = *(u32 *)(r6 + 4)       # ctx->data_end
    r4 = r2
    r4 += 34                    # Ethernet (14) + IPv4 header (20)
    if r4 > r3 goto out
    r4 = *(u16 *)(r2 + 12)      # EtherType
    if r4 != 0x8 goto out       # not IPv4
    r4 = *(u32 *)(r2 + 26)      # source address
    *(u32 *)(r7 + 0) = r4
    r4 = *(u8 *)(r2 + 23)       # protocol
    *(u32 *)(r7 + 4) = r4
    r1 = r7
    r2 = 0
    call bpf_ringbuf_submit
out:
    r0 = 2                      # XDP_PASS
    exit
