# Print "cpu <n> proto <p>" to the trace pipe for every IPv4 packet,
# and pass every packet.
#
# Arguments go in r1-r5, the result comes back in r0, and a call
# leaves r1-r5 unreadable. This program forgets that more than once.
# Check it, read the verifier's message, fix it, and check again.
    call bpf_get_smp_processor_id
    r7 = r0                     # the CPU number

    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r4 = r2
    r4 += 34                    # Ethernet (14) + IPv4 header (20)
    r0 = 2                      # XDP_PASS
    if r4 > r3 goto pass
    r4 = *(u16 *)(r2 + 12)      # EtherType, network order
    if r4 != 0x8 goto pass      # IPv4 only
    r8 = *(u8 *)(r2 + 23)       # IPv4 protocol

    # The format "cpu %d proto %d\n" and its NUL: 17 bytes at r10 - 24.
    r1 = 0x7020642520757063 ll  # "cpu %d p"
    *(u64 *)(r10 - 24) = r1
    r1 = 0x0a6425206f746f72 ll  # "roto %d\n"
    *(u64 *)(r10 - 16) = r1
    r1 = 0
    *(u64 *)(r10 - 8) = r1      # "\0"

    r1 = r10
    r1 += -24                   # argument 1: the format
    r2 = 17                     # argument 2: its size, NUL included
    r3 = r7                     # argument 3: the first %d
    r4 = r8                     # argument 4: the second %d
    call bpf_trace_printk
pass:
    exit
