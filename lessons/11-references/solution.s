# Report every IPv4 packet to user space through the ring buffer `events`.
# A record is 8 bytes: the source address as it is in the packet (4 bytes),
# then the IP protocol number as a u32.
.map events type=ringbuf key_size=0 value_size=0 max_entries=4096

    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r4 = r2
    r4 += 34                    # Ethernet (14) + IPv4 header (20)
    if r4 > r3 goto out
    r4 = *(u16 *)(r2 + 12)      # EtherType
    if r4 != 0x8 goto out       # 0x0800, IPv4; nothing reserved yet, nothing to give back
    r7 = *(u32 *)(r2 + 26)      # source address
    r8 = *(u8 *)(r2 + 23)       # protocol
    r1 = events ll
    r2 = 8                      # record size
    r3 = 0                      # flags
    call bpf_ringbuf_reserve    # r0 = the record, or NULL
    if r0 == 0 goto out         # NULL: the buffer is full, there is nothing to give back
    r6 = r0                     # keep the pointer exactly as it came
    *(u32 *)(r6 + 0) = r7
    *(u32 *)(r6 + 4) = r8
    r1 = r6
    r2 = 0
    call bpf_ringbuf_submit     # the record goes to user space; the reference is released
out:
    r0 = 2                      # XDP_PASS
    exit
