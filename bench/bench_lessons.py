"""How long checking a learner's program takes, lesson by lesson. Prints figures; asserts nothing.

    python bench/bench_lessons.py [--repeat N]

For each lesson and language: the time ``check_program`` takes on the solution (build, verify, run every test)
and on the starter (usually stopped by the verifier), the best of N runs, and the verifier's processed count.
C includes the compile (clang from ziglang, or the system's).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.lessons import check_program, course  # noqa: E402
from app.web.inputs import Limits  # noqa: E402

LIMITS = Limits(64 * 1024, 64 * 1024, 1_000_000)


def best(repeat: int, fn) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{'lesson':28} {'lang':4} {'tests':>5} {'solution ms':>12} {'processed':>9} {'starter ms':>11}  starter")
    total = 0.0
    for lesson in course():
        for language in lesson.languages:
            solved, report = best(args.repeat, lambda: check_program(lesson, lesson.solution[language], language,
                                                                     LIMITS))
            started, first = best(args.repeat, lambda: check_program(lesson, lesson.starter[language], language,
                                                                     LIMITS))
            total += solved
            print(f"{lesson.number:2}. {lesson.slug:24} {language:4} {len(lesson.tests):5} {solved * 1000:12.1f} "
                  f"{report.processed or 0:9} {started * 1000:11.1f}  {first.status}")
    print(f"all solutions: {total * 1000:.0f} ms")


if __name__ == "__main__":
    main()
