"""VM and assembler speed. Prints figures; asserts nothing (speed is measured here, not in tests).

    python bench/bench_vm.py [--steps N]

Inputs: an ALU/branch loop (add, xor, shift, compare-and-branch, 6 instructions an iteration), the same loop
with a stack store and load, and a 1M-step traced run for random-access state reconstruction.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.ebpf import assemble  # noqa: E402
from app.ebpf.vm import run  # noqa: E402

ALU_LOOP = """
    r0 = 0
    r1 = {n}
loop:
    r0 += r1
    r2 = r0
    r2 ^= 0x5a5a
    r2 <<= 3
    r1 -= 1
    if r1 != 0 goto loop
    exit
"""

MEM_LOOP = """
    r0 = 0
    r1 = {n}
loop:
    *(u64 *)(r10 - 8) = r1
    r2 = *(u64 *)(r10 - 8)
    r0 += r2
    r1 -= 1
    if r1 != 0 goto loop
    exit
"""


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=1_000_000, help="approximate instructions per run")
    args = parser.parse_args()
    iterations = args.steps // 6
    for name, src in (("alu/branch loop", ALU_LOOP), ("stack store/load loop", MEM_LOOP)):
        program = assemble(src.format(n=iterations))
        result = run(program)
        n = result.insns_executed
        plain = best_of(lambda: run(program))
        traced = best_of(lambda: run(program, trace=True))
        print(f"{name}: {n} insns; plain {n / plain / 1e6:.2f} M insns/s ({plain * 1e3:.0f} ms); "
              f"traced {n / traced / 1e6:.2f} M insns/s ({traced * 1e3:.0f} ms)")

    program = assemble(ALU_LOOP.format(n=iterations))
    result = run(program, trace=True)
    trace = result.trace
    rng = random.Random(1)
    picks = [rng.randrange(len(trace)) for _ in range(200)]
    times = []
    for k in picks:
        t = time.perf_counter()
        trace.state_at(k)
        times.append(time.perf_counter() - t)
    times.sort()
    print(f"state at a random step of a {len(trace)}-step trace: median {statistics.median(times) * 1e3:.2f} ms, "
          f"p99 {times[int(len(times) * 0.99) - 1] * 1e3:.2f} ms, max {times[-1] * 1e3:.2f} ms")
    t = time.perf_counter()
    for k in picks[:50]:
        trace.step_record(k)
    print(f"step record (diff of two states): {(time.perf_counter() - t) / 50 * 1e3:.2f} ms each")
    print(f"trace memory: {trace.memory_bytes() / 1e6:.1f} MB for {len(trace)} steps "
          f"({len(trace.checkpoints)} checkpoints)")

    text = "\n".join(["r1 += 5", "if r1 s> 7 goto +0", "*(u32 *)(r10 - 4) = r1", "r0 = *(u64 *)(r1 + 8)"] * 25000)
    t = best_of(lambda: assemble(text), 1)
    print(f"assembler: 100000 lines in {t * 1e3:.0f} ms ({100000 / t / 1e3:.0f} k lines/s)")


if __name__ == "__main__":
    main()
