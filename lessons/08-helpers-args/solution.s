# Print "cpu <n> proto <p>" to the trace pipe for every IPv4 packet,
# and pass every packet.
    r6 = r1                     # keep the context: r1 does not survive a call
    call bpf_get_smp_processor_id
    r7 = r0                     # the CPU number, kept where calls leave it alone

    r2 = *(u32 *)(r6 + 0)       # ctx->data
    r3 = *(u32 *)(r6 + 4)       # ctx->data_end
    r4 = r2
    r4 += 34                    # Ethernet (14) + IPv4 header (20)
    if r4 > r3 goto pass
    r4 = *(u16 *)(r2 + 12)      # EtherType, network order
    if r4 != 0x8 goto pass      # IPv4 only
    r8 = *(u8 *)(r2 + 23)       # IPv4 protocol, kept for after the stores below

    # The format "cpu %d proto %d\n" and its NUL: 17 bytes at r10 - 24.
    r1 = 0x7020642520757063 ll  # "cpu %d p"
    *(u64 *)(r10 - 24) = r1
    r1 = 0x0a6425206f746f72 ll  # "roto %d\n"
    *(u64 *)(r10 - 16) = r1
    r1 = 0
    *(u64 *)(r10 - 8) = r1      # "\0"

    r1 = r10
    r1 += -24                   # argument 1: the format, initialised stack memory
    r2 = 17                     # argument 2: its size, NUL included
    r3 = r7                     # argument 3: the first %d
    r4 = r8                     # argument 4: the second %d
    call bpf_trace_printk       # r0 = bytes printed; r1-r5 are now unreadable
pass:
    r0 = 2                      # XDP_PASS, set after the last call
    exit
