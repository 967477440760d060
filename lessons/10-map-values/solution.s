# A histogram of packet sizes in one map value: hist[0] holds an array of
# 16 u64 counters. Bucket i counts packets of 128*i to 128*i + 127 bytes;
# bucket 15 also takes every packet of 1920 bytes or more.
.map hist type=array key_size=4 value_size=128 max_entries=1

    r2 = *(u32 *)(r1 + 0)       # ctx->data
    r3 = *(u32 *)(r1 + 4)       # ctx->data_end
    r6 = r3
    r6 -= r2                    # the packet's length: a number the verifier cannot bound
    r6 >>= 7                    # the bucket: length / 128
    if r6 <= 15 goto bounded    # unsigned: on this branch r6 is 0..15
    r6 = 15                     # the last bucket takes all larger packets
bounded:
    r6 <<= 3                    # the counter's offset in the value: 0, 8, ... 120

    r1 = 0
    *(u32 *)(r10 - 4) = r1      # key 0: the only entry
    r1 = hist ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto pass
    r0 += r6                    # move to the counter: 0..120 bytes into the value
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1 # 8 bytes at offset 0..120: inside the 128
pass:
    r0 = 2                      # XDP_PASS
    exit
