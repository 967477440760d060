# Drop every packet: XDP_DROP is 1.
r0 = 1
exit
