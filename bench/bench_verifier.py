"""How close the verifier's processed-instruction counts are to the kernel's, and how fast it is.

    python bench/bench_verifier.py [N]

Generates N random programs the kernel accepts (the differential suite's generator), verifies each with
ours and with the kernel (log_level 4: stats only), and prints how many agree on the verdict and on the
processed count, plus our speed in processed instructions per second. Needs bpf() (root).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from app.ebpf.insn import decode_raw, encode  # noqa: E402
from app.ebpf.program import Program  # noqa: E402
from app.ebpf.verifier import verify  # noqa: E402
from app.oracle import bpf_available, verify_in_kernel  # noqa: E402
from tests.differential.gen import programs  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    if not bpf_available():
        print("bpf() is not permitted here: nothing to compare with")
        return
    tally = {"programs": 0, "same_verdict": 0, "same_count": 0, "ours_more": 0, "ours_fewer": 0}
    ours_time, ours_insns, kernel_time = 0.0, 0, 0.0

    @settings(max_examples=n, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(prog=programs())
    def one(prog):
        nonlocal ours_time, ours_insns, kernel_time
        code = encode(list(prog.insns))
        t = time.perf_counter()
        ours = verify(Program(decode_raw(code)), "socket_filter")
        ours_time += time.perf_counter() - t
        ours_insns += ours.stats.processed
        t = time.perf_counter()
        kernel = verify_in_kernel(code, "socket_filter", log_level=4)
        kernel_time += time.perf_counter() - t
        tally["programs"] += 1
        tally["same_verdict"] += ours.accepted == kernel.accepted
        if ours.stats.processed == kernel.processed_insns:
            tally["same_count"] += 1
        elif ours.stats.processed > (kernel.processed_insns or 0):
            tally["ours_more"] += 1
        else:
            tally["ours_fewer"] += 1

    one()
    total = tally["programs"]
    print(f"{total} random programs the kernel accepts: same verdict {tally['same_verdict']}, same processed "
          f"count {tally['same_count']} ({100 * tally['same_count'] / total:.0f}%), ours higher "
          f"{tally['ours_more']}, ours lower {tally['ours_fewer']}")
    print(f"our verifier: {ours_insns} processed insns in {ours_time:.2f} s "
          f"({ours_insns / ours_time / 1000:.0f}k insns/s); the kernel's BPF_PROG_LOAD calls: {kernel_time:.3f} s "
          f"(ours {ours_time / kernel_time:.0f}x slower)")
    large(LARGE)


LARGE = "limit_loop_just_fits"  # the corpus case closest to the 1,000,000-instruction limit


def large(name: str) -> None:
    """One program that processes close to 1M instructions, verified by both (stats only for the kernel)."""
    from tests.verifier_corpus import load_cases

    case = next(c for c in load_cases() if c.name == name)
    program = case.program()
    t = time.perf_counter()
    ours = verify(program, case.prog_type)
    ours_seconds = time.perf_counter() - t
    t = time.perf_counter()
    kernel = verify_in_kernel(program.to_bytes(), case.prog_type, log_level=4)
    kernel_seconds = time.perf_counter() - t
    print(f"{name}: ours {ours.stats.processed:,} processed insns in {ours_seconds:.1f} s "
          f"({ours.stats.processed / ours_seconds / 1000:.0f}k insns/s), the kernel {kernel.processed_insns:,} "
          f"in {kernel_seconds:.3f} s: ours {ours_seconds / kernel_seconds:.0f}x slower")


if __name__ == "__main__":
    main()
