# An XDP program runs once for every packet the network card receives.
# Whatever is in r0 when it exits is the verdict: 1 is XDP_DROP, 2 is XDP_PASS.
#
# This program exits without choosing. Check it and read what the verifier says,
# then make it drop every packet.
exit
