# Syslog over UDP (port 514) is text. Drop a message whose first 16 bytes
# hold a NUL byte; pass everything else, and messages shorter than 16 bytes.
#
# This program is correct and the verifier accepts it, but it processes
# 780 instructions to do so. This exercise allows 300. The loop remembers
# in r6 whether it saw a NUL, and decides only after the last pass.
# Restructure it so that the verifier has fewer paths to walk.

    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r4 = r2
    r4 += 58                    # Ethernet, IPv4, UDP (42) + 16 payload bytes
    if r4 > r3 goto pass
    r4 = *(u16 *)(r2 + 12)
    if r4 != 0x8 goto pass      # IPv4
    r4 = *(u8 *)(r2 + 14)
    if r4 != 0x45 goto pass     # with a 20-byte header
    r4 = *(u8 *)(r2 + 23)
    if r4 != 17 goto pass       # UDP
    r4 = *(u16 *)(r2 + 36)
    if r4 != 0x202 goto pass    # to port 514 (0x0202 reads the same either way)
    r2 += 42                    # r2 points at the payload
    r5 = 0                      # i
    r6 = 0                      # found a NUL?
loop:
    r4 = r2
    r4 += r5
    r4 = *(u8 *)(r4 + 0)        # payload[i]
    if r4 != 0 goto next
    r6 = 1                      # remember it
next:
    r5 += 1
    if r5 < 16 goto loop
    if r6 != 0 goto drop        # decide after the loop
pass:
    r0 = 2                      # XDP_PASS
    exit
drop:
    r0 = 1                      # XDP_DROP
    exit
