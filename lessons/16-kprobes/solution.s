# kprobe on vfs_read(struct file *file, char __user *buf, size_t count, loff_t *pos).
# Add up the bytes each process asks to read: key the tgid, value a u64 total.
# The context is struct pt_regs: count, the third argument, is in dx.
.map bytes_read type=hash key_size=4 value_size=8 max_entries=1024

    r6 = *(u64 *)(r1 + 96)      # arg3 (dx): count, a 64-bit size_t
    call bpf_get_current_pid_tgid
    r0 >>= 32                   # the upper half: the tgid, the process id
    *(u32 *)(r10 - 4) = r0      # the key
    r1 = bytes_read ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto insert      # no entry yet for this process
    lock *(u64 *)(r0 + 0) += r6 # add to its total
    goto out
insert:
    *(u64 *)(r10 - 16) = r6     # the first value: this call's count
    r1 = bytes_read ll
    r2 = r10
    r2 += -4                    # the key
    r3 = r10
    r3 += -16                   # the value
    r4 = 0                      # BPF_ANY
    call bpf_map_update_elem
out:
    r0 = 0                      # the kernel ignores a kprobe's return value
    exit
