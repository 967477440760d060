# Tracepoint syscalls/sys_enter_openat: count the openat() calls that may
# create a file (O_CREAT in flags) in creates[0], and among them those that
# ask for a file everyone may write (S_IWOTH, 0o002, in mode) in creates[1].
# The offsets are the format file's: the record starts with an 8-byte header.
.map creates type=array key_size=4 value_size=8 max_entries=2

    r6 = *(u64 *)(r1 + 32)      # flags: offset 32, an 8-byte slot
    r7 = *(u64 *)(r1 + 40)      # mode: offset 40
    r6 &= 0x40                  # O_CREAT
    if r6 == 0 goto out         # no O_CREAT: mode means nothing

    r1 = 0
    *(u32 *)(r10 - 4) = r1      # key 0: calls with O_CREAT
    r1 = creates ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1

    r7 &= 2                     # S_IWOTH: others may write
    if r7 == 0 goto out
    r1 = 1
    *(u32 *)(r10 - 4) = r1      # key 1: ... with a world-writable mode
    r1 = creates ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 1
    lock *(u64 *)(r0 + 0) += r1
out:
    r0 = 0                      # ignored by the kernel, as for a kprobe
    exit
