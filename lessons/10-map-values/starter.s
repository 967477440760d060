# A histogram of packet sizes in one map value: hist[0] holds an array of
# 16 u64 counters. Bucket i counts packets of 128*i to 128*i + 127 bytes;
# bucket 15 also takes every packet of 1920 bytes or more.
#
# The verifier refuses this program: nothing keeps the bucket number below
# 16. Check it, read the message, and bound r6 before it becomes an offset.
.map hist type=array key_size=4 value_size=128 max_entries=1

    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r6 = r3
    r6 -= r2                    # the packet's length: a number the verifier cannot bound
    r6 >>= 7                    # the bucket: length / 128
    r6 <<= 3                    # the counter's offset in the value

    r1 = 0
    *(u32 *)(r10 - 4) = r1      # key 0: the only entry
    r1 = hist ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto pass
    r0 += r6                    # move to the counter
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1 # add 1 to it
pass:
    r0 = 2                      # XDP_PASS
    exit
