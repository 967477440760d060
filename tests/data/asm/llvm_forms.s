# Every instruction form in the kernel/LLVM syntax, one per line, as LLVM 19's assembler accepts it.
# tests/test_llvm_mc.py assembles this file with llvm-mc-19 and with our assembler and compares the bytes.
# (Forms LLVM spells differently from us, such as helper calls by name, are tested elsewhere.)
	r1 += 5
	r1 += r2
	w1 += 5
	w1 += w2
	r1 -= 5
	r1 -= r2
	w1 -= 5
	w1 -= w2
	r1 *= 5
	r1 *= r2
	w1 *= 5
	w1 *= w2
	r1 /= 5
	r1 /= r2
	w1 /= 5
	w1 /= w2
	r1 s/= 5
	r1 s/= r2
	w1 s/= 5
	w1 s/= w2
	r1 %= 5
	r1 %= r2
	w1 %= 5
	w1 %= w2
	r1 s%= 5
	r1 s%= r2
	w1 s%= 5
	w1 s%= w2
	r1 |= 5
	r1 |= r2
	w1 |= 5
	w1 |= w2
	r1 &= 5
	r1 &= r2
	w1 &= 5
	w1 &= w2
	r1 ^= 5
	r1 ^= r2
	w1 ^= 5
	w1 ^= w2
	r1 <<= 5
	r1 <<= r2
	w1 <<= 5
	w1 <<= w2
	r1 >>= 5
	r1 >>= r2
	w1 >>= 5
	w1 >>= w2
	r1 s>>= 5
	r1 s>>= r2
	w1 s>>= 5
	w1 s>>= w2
	r1 = 5
	r1 = r2
	w1 = 5
	w1 = w2
	r1 = -1
	w1 = 0x80000000
	r1 = -r1
	w1 = -w1
	r1 = (s8)r2
	r1 = (s16)r2
	r1 = (s32)r2
	w1 = (s8)w2
	w1 = (s16)w2
	r1 = be16 r1
	r1 = be32 r1
	r1 = be64 r1
	r1 = le16 r1
	r1 = le32 r1
	r1 = le64 r1
	r1 = bswap16 r1
	r1 = bswap32 r1
	r1 = bswap64 r1
	r1 = 0x1122334455667788 ll
	r1 = -1 ll
	r1 = 5 ll
	r0 = *(u8 *)(r1 + 4)
	r0 = *(u16 *)(r1 + 4)
	r0 = *(u32 *)(r1 + 4)
	r0 = *(u64 *)(r1 + 4)
	w0 = *(u8 *)(r1 + 4)  # same bytes as r0 form
	w0 = *(u16 *)(r1 + 4)  # same bytes as r0 form
	w0 = *(u32 *)(r1 + 4)  # same bytes as r0 form
	r0 = *(s8 *)(r1 - 2)
	r0 = *(s16 *)(r1 - 2)
	r0 = *(s32 *)(r1 - 2)
	*(u8 *)(r10 - 8) = r1
	*(u16 *)(r10 - 8) = r1
	*(u32 *)(r10 - 8) = r1
	*(u64 *)(r10 - 8) = r1
	*(u8 *)(r10 - 8) = w1  # same bytes as r1 form
	*(u16 *)(r10 - 8) = w1  # same bytes as r1 form
	*(u32 *)(r10 - 8) = w1  # same bytes as r1 form
	*(u8 *)(r10 - 8) = -1
	*(u16 *)(r10 - 8) = -1
	*(u32 *)(r10 - 8) = -1
	*(u64 *)(r10 - 8) = -1
	r0 = *(u64 *)(r1 + 32767)
	r0 = *(u64 *)(r1 - 32768)
	r0 = *(u8 *)skb[14]
	r0 = *(u16 *)skb[14]
	r0 = *(u32 *)skb[14]
	r0 = *(u8 *)skb[r1]
	r0 = *(u16 *)skb[r1]
	r0 = *(u32 *)skb[r1]
	lock *(u64 *)(r1 + 0) += r2
	lock *(u64 *)(r1 + 0) |= r2
	lock *(u64 *)(r1 + 0) &= r2
	lock *(u64 *)(r1 + 0) ^= r2
	lock *(u32 *)(r1 + 0) += w2
	lock *(u32 *)(r1 + 0) |= w2
	lock *(u32 *)(r1 + 0) &= w2
	lock *(u32 *)(r1 + 0) ^= w2
	r2 = atomic_fetch_add((u64 *)(r1 + 0), r2)
	r2 = atomic_fetch_and((u64 *)(r1 + 0), r2)
	r2 = atomic_fetch_or((u64 *)(r1 + 0), r2)
	r2 = atomic_fetch_xor((u64 *)(r1 + 0), r2)
	w2 = atomic_fetch_add((u32 *)(r1 + 0), w2)
	w2 = atomic_fetch_and((u32 *)(r1 + 0), w2)
	w2 = atomic_fetch_or((u32 *)(r1 + 0), w2)
	w2 = atomic_fetch_xor((u32 *)(r1 + 0), w2)
	r2 = xchg_64(r1 + 0, r2)
	w2 = xchg32_32(r1 + 0, w2)
	r0 = cmpxchg_64(r1 + 0, r0, r2)
	w0 = cmpxchg32_32(r1 + 0, w0, w2)
	goto +2
	goto -1
	gotol +2
	gotol -1
	may_goto +2
	if r1 == 5 goto +1
	if r1 == r2 goto +1
	if w1 == 5 goto +1
	if w1 == w2 goto +1
	if r1 != 5 goto +1
	if r1 != r2 goto +1
	if w1 != 5 goto +1
	if w1 != w2 goto +1
	if r1 > 5 goto +1
	if r1 > r2 goto +1
	if w1 > 5 goto +1
	if w1 > w2 goto +1
	if r1 >= 5 goto +1
	if r1 >= r2 goto +1
	if w1 >= 5 goto +1
	if w1 >= w2 goto +1
	if r1 < 5 goto +1
	if r1 < r2 goto +1
	if w1 < 5 goto +1
	if w1 < w2 goto +1
	if r1 <= 5 goto +1
	if r1 <= r2 goto +1
	if w1 <= 5 goto +1
	if w1 <= w2 goto +1
	if r1 & 5 goto +1
	if r1 & r2 goto +1
	if w1 & 5 goto +1
	if w1 & w2 goto +1
	if r1 s> 5 goto +1
	if r1 s> r2 goto +1
	if w1 s> 5 goto +1
	if w1 s> w2 goto +1
	if r1 s>= 5 goto +1
	if r1 s>= r2 goto +1
	if w1 s>= 5 goto +1
	if w1 s>= w2 goto +1
	if r1 s< 5 goto +1
	if r1 s< r2 goto +1
	if w1 s< 5 goto +1
	if w1 s< w2 goto +1
	if r1 s<= 5 goto +1
	if r1 s<= r2 goto +1
	if w1 s<= 5 goto +1
	if w1 s<= w2 goto +1
	if r1 s> -5 goto -3
	call 1
	callx r2
	exit
	if r1 == 0 goto out
	if w1 s< w2 goto out
	goto out
	gotol out
	may_goto out
	call subprog
out:
	r0 = 0
	exit
subprog:
	r0 = 1
	exit
