# A snap-length filter: drop packets shorter than 20 bytes,
# keep at most the first 96 bytes of the others.
r0 = *(u32 *)(r1 + 0)   # r0 = skb->len
if r0 < 20 goto drop    # unsigned compare: len is never negative
if r0 > 96 goto cut
exit                    # 20..96 bytes: keep the whole packet

cut:                    # longer than 96 bytes
r0 = 96                 # keep the first 96
exit

drop:                   # shorter than 20 bytes
r0 = 0                  # 0 drops the packet
exit
