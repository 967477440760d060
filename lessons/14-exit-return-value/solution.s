# A cgroup firewall: DNS (UDP to port 53) may only go to the resolver 10.0.0.53.
# cgroup_skb programs return 1 to allow a packet and 0 to drop it; nothing else.
# The packet starts at the IP header: there is no Ethernet header here.

    r2 = *(u32 *)(r1 + 76)      # skb->data: the IPv4 header
    r3 = *(u32 *)(r1 + 80)      # skb->data_end
    r4 = r2
    r4 += 20                    # the fixed part of the IPv4 header
    if r4 > r3 goto allow
    r4 = *(u8 *)(r2 + 0)        # version (high 4 bits), header length (low 4)
    r5 = r4
    r5 >>= 4
    if r5 != 4 goto allow       # not IPv4
    r5 = *(u8 *)(r2 + 9)        # protocol
    if r5 != 17 goto allow      # not UDP
    r5 = *(u32 *)(r2 + 16)      # destination address, network order
    if r5 == 0x3500000a goto allow  # 10.0.0.53, the resolver
    r4 &= 0xf
    r4 <<= 2                    # header length in bytes
    if r4 < 20 goto allow
    r2 += r4                    # the UDP header
    r4 = r2
    r4 += 4                     # source and destination ports
    if r4 > r3 goto allow
    r4 = *(u16 *)(r2 + 2)       # destination port, network order
    if r4 != 0x3500 goto allow  # port 53 reads as 0x3500
    r0 = 0                      # drop: DNS to some other server
    exit
allow:
    r0 = 1                      # allow
    exit
