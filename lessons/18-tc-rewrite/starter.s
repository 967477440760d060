# TC (sched_cls): send IPv4 TCP segments for port 8080 to port 80 instead,
# and keep the TCP checksum right. Every packet goes on (TC_ACT_OK).
#
# The verifier refuses this program at the store that writes the new port.
# Check it, read what it says r7 has become, and fix the order (or reload
# the packet pointers and check the bounds again).
    r6 = r1                     # the context: the helper needs it
    r7 = *(u32 *)(r6 + 76)      # skb->data
    r8 = *(u32 *)(r6 + 80)      # skb->data_end
    r2 = r7
    r2 += 54                    # Ethernet (14) + IPv4 (20) + TCP (20)
    if r2 > r8 goto out         # too short: leave it alone
    r2 = *(u16 *)(r7 + 12)
    if r2 != 0x8 goto out       # EtherType IPv4 (08 00)
    r2 = *(u8 *)(r7 + 14)
    if r2 != 0x45 goto out      # IPv4 with a 20-byte header
    r2 = *(u8 *)(r7 + 23)
    if r2 != 6 goto out         # TCP
    r9 = *(u16 *)(r7 + 36)      # destination port, network order
    if r9 != 0x901f goto out    # 8080 is 1f 90, read as 0x901f

    r1 = r6
    r2 = 50                     # the TCP checksum: 14 + 20 + 16
    r3 = r9                     # the old port ...
    r4 = 0x5000                 # ... and the new one, as they sit in memory
    r5 = 2                      # flags: a 2-byte field
    call bpf_l4_csum_replace    # fix the checksum first ...
    r2 = 0x5000                 # 80 is 00 50, read as 0x5000
    *(u16 *)(r7 + 36) = r2      # ... then write the port
out:
    r0 = 0                      # TC_ACT_OK
    exit
