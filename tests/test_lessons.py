"""The course under lessons/: every lesson loads, its solution passes its tests, its starter does not; and
the checker's reports (pass, fail, error) say what a learner needs to see."""
from __future__ import annotations

from pathlib import Path

import pytest

from app.lessons import LessonFormatError, check_program, load_lessons
from app.lessons.check import ERROR, FAIL, PASS
from app.lessons.content import LESSONS_DIR, read_lessons
from app.web.inputs import Limits

LIMITS = Limits(64 * 1024, 64 * 1024, 1_000_000)
LESSONS = read_lessons()
CASES = [(lesson, language) for lesson in LESSONS for language in lesson.languages]


def ids(case) -> str:
    lesson, language = case
    return f"{lesson.slug}-{language}"


def test_the_course_is_numbered_in_order():
    assert [lesson.number for lesson in load_lessons(LESSONS_DIR)] == list(range(1, len(LESSONS) + 1))


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_the_solution_passes(case):
    lesson, language = case
    report = check_program(lesson, lesson.solution[language], language, LIMITS)
    assert report.status == PASS, report
    if lesson.max_processed is not None:
        assert report.processed <= lesson.max_processed


@pytest.mark.parametrize("case", CASES, ids=ids)
def test_the_starter_does_not_pass(case):
    lesson, language = case
    report = check_program(lesson, lesson.starter[language], language, LIMITS)
    assert report.status in (FAIL, ERROR)


def test_a_rejection_is_reported_in_the_kernels_words_with_its_explanation():
    lesson = next(lesson for lesson in LESSONS if lesson.slug == "registers")
    report = check_program(lesson, "exit\n", "asm", LIMITS)
    assert report.status == ERROR
    assert report.message == "R0 !read_ok (EACCES)"
    assert report.insn == 0 and report.explanation.entry.lesson == "registers"
    assert {t.status for t in report.tests} == {"skipped"}


def test_a_wrong_answer_names_what_was_expected_and_what_came_back():
    lesson = next(lesson for lesson in LESSONS if lesson.slug == "registers")
    report = check_program(lesson, "r0 = 2\nexit\n", "asm", LIMITS)
    assert report.status == FAIL and report.first_failure == 0
    first = report.tests[0]
    assert (first.message, first.expected, first.got) == ("wrong return value", "XDP_DROP (1)", "XDP_PASS (2)")


def test_an_assembly_error_names_its_line():
    lesson = LESSONS[0]
    report = check_program(lesson, "r0 = 1\nexitt\n", "asm", LIMITS)
    assert report.status == ERROR and report.line == 2 and report.message.startswith("line 2, col 1:")


def test_a_source_over_the_limit_is_refused_without_running():
    report = check_program(LESSONS[0], "r0 = 1\n" * 20_000 + "exit\n", "asm", LIMITS)
    assert report.status == ERROR and "bytes" in report.message


def test_a_fault_is_an_error_not_a_failure(tmp_path):
    lesson = write_lesson(tmp_path, hook="socket_filter", expect='{ return = 0 }',
                          input_='{ packet_spec = "eth/ipv4/udp" }')
    # The verifier would refuse this load; check_program verifies first, so it reports the rejection.
    report = check_program(lesson, "r0 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r0 + 0)\nexit\n", "asm", LIMITS)
    assert report.status == ERROR and report.insn == 1 and "invalid mem access 'scalar'" in report.message


def test_map_contents_are_compared_entry_by_entry(tmp_path):
    lesson = write_lesson(tmp_path, hook="xdp", input_='{ packet_spec = ["eth/ipv4/udp", "eth/ipv4/tcp"] }',
                          expect='{ return = "XDP_PASS", maps = { seen = { "0" = 2, "1" = 0 } } }')
    counter = """.map seen type=array key_size=4 value_size=8 max_entries=2
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = seen ll
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = 1
lock *(u64 *)(r0 + 0) += r1
out:
r0 = 2
exit
"""
    assert check_program(lesson, counter, "asm", LIMITS).status == PASS
    once = counter.replace("r1 = 1\n", "r1 = 0\n")
    report = check_program(lesson, once, "asm", LIMITS)
    assert report.status == FAIL
    assert (report.tests[0].message, report.tests[0].expected, report.tests[0].got) == \
        ("map seen, key 0", "2 (bytes 02 00 00 00 00 00 00 00)", "0 (bytes 00 00 00 00 00 00 00 00)")


def test_an_array_slot_can_never_be_absent(tmp_path):
    lesson = write_lesson(tmp_path, hook="xdp", input_='{ packet_spec = "eth/ipv4/udp" }',
                          expect='{ maps = { seen = { "1" = "" } } }')
    program = ".map seen type=array key_size=4 value_size=8 max_entries=2\nr0 = 2\nexit\n"
    report = check_program(lesson, program, "asm", LIMITS)
    assert report.status == FAIL and report.tests[0].expected == "no entry"


def test_too_many_processed_instructions_fail_a_lesson_that_bounds_them(tmp_path):
    lesson = write_lesson(tmp_path, hook="xdp", input_='{ packet_spec = "eth/ipv4/udp" }',
                          expect='{ return = "XDP_PASS" }', extra="max_processed = 3\n")
    assert check_program(lesson, "r0 = 2\nexit\n", "asm", LIMITS).status == PASS
    report = check_program(lesson, "r1 = 1\nr1 += 1\nr0 = 2\nexit\n", "asm", LIMITS)
    assert report.status == FAIL and "at most 3" in report.message
    assert {t.status for t in report.tests} == {PASS}


def test_output_lines_are_compared(tmp_path):
    lesson = write_lesson(tmp_path, hook="xdp", input_='{ packet_spec = "eth/ipv4/udp" }',
                          expect='{ output = ["hi"] }')
    program = """r1 = 0x6968
*(u64 *)(r10 - 8) = r1
r1 = r10
r1 += -8
r2 = 3
call bpf_trace_printk
r0 = 2
exit
"""
    assert check_program(lesson, program, "asm", LIMITS).status == PASS
    report = check_program(lesson, program.replace("0x6968", "0x4869"), "asm", LIMITS)
    assert report.status == FAIL and (report.tests[0].expected, report.tests[0].got) == ("hi", "iH")


# --- the format -------------------------------------------------------------------------------------------

def write_lesson(root: Path, *, hook: str, input_: str, expect: str, extra: str = "", folder: str = "01-demo",
                 load: bool = True):
    path = root / folder
    path.mkdir(parents=True)
    (path / "lesson.toml").write_text(
        f'title = "Demo"\nunit = "Tests"\nhook = "{hook}"\nsummary = "A lesson made by a test."\n{extra}'
        f'[[tests]]\nname = "the only test"\ninput = {input_}\nexpect = {expect}\n')
    for name in ("text.md", "starter.s", "solution.s"):
        (path / name).write_text("exit\n")
    return load_lessons(root)[0] if load else None


@pytest.mark.parametrize("manifest_change, where, message", [
    ('hook = "xdp"', "hook", "unknown program type 'nope'"),
    ("[[tests]]", "tests", "at least one [[tests]]"),
    ('expect = { return = "XDP_PASS" }', "tests[0].expect.return", "xdp has no return code 'TC_ACT_OK'"),
    ('input = { packet_spec = "eth/ipv4/udp" }', "tests[0].input.packet_spec", "cannot read layer"),
    ('name = "the only test"', "tests[0].colour", "unknown field"),
])
def test_a_malformed_lesson_is_refused_naming_the_field(tmp_path, manifest_change, where, message):
    write_lesson(tmp_path, hook="xdp", input_='{ packet_spec = "eth/ipv4/udp" }', expect='{ return = "XDP_PASS" }')
    manifest = tmp_path / "01-demo" / "lesson.toml"
    text = manifest.read_text()
    replacement = {
        'hook = "xdp"': 'hook = "nope"',
        "[[tests]]": "",
        'expect = { return = "XDP_PASS" }': 'expect = { return = "TC_ACT_OK" }',
        'input = { packet_spec = "eth/ipv4/udp" }': 'input = { packet_spec = "eth/ipv4/udp!" }',
        'name = "the only test"': 'name = "the only test"\ncolour = "red"',
    }[manifest_change]
    if manifest_change == "[[tests]]":
        text = text.split("[[tests]]")[0]
    else:
        text = text.replace(manifest_change, replacement)
    manifest.write_text(text)
    with pytest.raises(LessonFormatError) as caught:
        load_lessons(tmp_path)
    assert caught.value.where == where and message in caught.value.message


def test_lesson_numbers_must_not_skip(tmp_path):
    write_lesson(tmp_path, hook="xdp", input_='{ packet_spec = "eth/ipv4/udp" }', expect='{ return = 2 }',
                 folder="02-demo", load=False)
    with pytest.raises(LessonFormatError, match="number 2, expected 1"):
        load_lessons(tmp_path)


def test_a_missing_file_is_named(tmp_path):
    write_lesson(tmp_path, hook="xdp", input_='{ packet_spec = "eth/ipv4/udp" }', expect='{ return = 2 }')
    (tmp_path / "01-demo" / "solution.s").unlink()
    with pytest.raises(LessonFormatError, match="solution.s: missing"):
        load_lessons(tmp_path)


# --- the command line ---------------------------------------------------------------------------------------

def test_the_cli_lists_the_course_and_checks_a_file(tmp_path, capsys):
    from app.cli import main

    assert main(["lesson"]) == 0
    assert "registers" in capsys.readouterr().out
    wrong = tmp_path / "wrong.s"
    wrong.write_text("r0 = 2\nexit\n")
    assert main(["lesson", "registers", str(wrong)]) == 1
    out = capsys.readouterr().out
    assert "expected: XDP_DROP (1)" in out and out.rstrip().endswith("registers: fail")
    assert main(["lesson", "registers", str(wrong), "--json"]) == 1
    assert '"status": "fail"' in capsys.readouterr().out
    assert main(["lesson", "registers"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("1. Registers and exit") and "## Your task" in printed and "Hint 1:" in printed
    assert main(["lesson", "nope", str(wrong)]) == 2
    assert "no lesson 'nope'" in capsys.readouterr().err


def test_ring_buffer_records_are_compared(tmp_path):
    lesson = write_lesson(tmp_path, hook="xdp", input_='{ packet_spec = ["eth/ipv4/udp", "eth/ipv4/tcp"] }',
                          expect='{ records = ["2a000000", "2a000000"] }')
    program = """.map events type=ringbuf key_size=0 value_size=0 max_entries=4096
*(u32 *)(r10 - 4) = 42
r1 = events ll
r2 = r10
r2 += -4
r3 = 4
r4 = 0
call bpf_ringbuf_output
r0 = 2
exit
"""
    assert check_program(lesson, program, "asm", LIMITS).status == PASS
    report = check_program(lesson, program.replace("= 42", "= 43"), "asm", LIMITS)
    assert report.status == FAIL and report.tests[0].got == "2b 00 00 00\n2b 00 00 00"


def test_every_lesson_the_message_catalogue_names_exists():
    from app.ebpf.verifier.explain import ENTRIES, LESSON_SLUGS

    slugs = {lesson.slug for lesson in LESSONS}
    assert set(LESSON_SLUGS) <= slugs
    assert {entry.lesson for entry in ENTRIES} <= slugs


def test_a_rejection_names_the_source_line_of_its_instruction():
    lesson = next(lesson for lesson in LESSONS if lesson.slug == "registers")
    report = check_program(lesson, "# nothing set\n\nexit\n", "asm", LIMITS)
    assert (report.insn, report.line) == (0, 3)


def test_a_long_map_value_is_shown_as_u64_words(tmp_path):
    from app.lessons.check import _value_text

    assert _value_text(bytes([3]) + bytes(7) + bytes([1]) + bytes(7)) == "u64 words: [0] = 3  [1] = 1"
    assert _value_text(bytes(3)) == "00 00 00"


def test_the_whole_check_holds_to_one_time_limit():
    """Verify and every test share one budget: a check that would take longer stops with TimeLimit."""
    from app.web.progress import Progress, TimeLimit

    ticks = iter(range(0, 1000, 4))  # every look at the clock is 4 s later

    lesson = next(lesson for lesson in LESSONS if lesson.slug == "packet-bounds")
    with pytest.raises(TimeLimit):
        check_program(lesson, lesson.solution["asm"], "asm", LIMITS, Progress(10, clock=lambda: next(ticks)))
    assert check_program(lesson, lesson.solution["asm"], "asm", LIMITS, Progress(0)).passed


def test_a_per_cpu_value_is_the_one_of_the_cpu_the_test_runs_on(tmp_path):
    lesson = write_lesson(tmp_path, hook="xdp", input_='{ packet_spec = ["eth/ipv4/udp", "eth/ipv4/tcp"] }',
                          expect='{ maps = { seen = { "0" = 2 } } }', extra="")
    counter = """.map seen type=percpu_array key_size=4 value_size=8 max_entries=1
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = seen ll
call bpf_map_lookup_elem
if r0 == 0 goto out
r1 = *(u64 *)(r0 + 0)
r1 += 1
*(u64 *)(r0 + 0) = r1
out:
r0 = 2
exit
"""
    assert check_program(lesson, counter, "asm", LIMITS).status == PASS
    on_cpu1 = write_lesson(tmp_path / "cpu1", hook="xdp", input_='{ packet_spec = "eth/ipv4/udp" }\nenv = { cpu = 1 }',
                           expect='{ maps = { seen = { "0" = 1 } } }', extra="")
    assert check_program(on_cpu1, counter, "asm", LIMITS).status == PASS  # CPU 0's slot holds 0
