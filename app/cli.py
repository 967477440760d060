"""The ``ebpf-playground`` command line. Its commands, options, output and exit codes are a contract
(documented in the README): other tools script against them.

Exit status: 0 on success, 1 on a program error (assembly or decode error, a fault, a failed
conformance case), 2 on a usage error.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from pathlib import Path

from .ebpf import AsmError, DecodeError, EbpfError, InputError, Program, assemble, disassemble, load_bytes
from .ebpf.env import Env, MemoryBlock
from .ebpf.packets import build_packet, parse_spec
from .ebpf.pcap import read_pcap
from .ebpf.program import MapDef
from .ebpf.progtypes import PROG_TYPES
from .ebpf.vm import DEFAULT_MAX_INSNS, MapSeed, run, run_packets

MAX_FILE = 16 << 20  # bytes of program file the CLI reads


class UsageError(Exception):
    pass


def _read(path: str) -> bytes:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_FILE:
            raise UsageError(f"{path}: file is larger than {MAX_FILE} bytes")
        return p.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: {e.strerror or e}") from None


class CompileFailed(Exception):
    pass


def _load(path: str, section: str | None = None) -> tuple[Program, str | None]:
    """The program in a file, and the program type the file says it is (ELF objects and C only).

    ``.bin``/``.raw``: raw instructions; ``.o``: an ELF object; ``.c``: restricted C, compiled in the
    sandbox; anything else: assembly text."""
    data = _read(path)
    if path.endswith((".bin", ".raw")):
        return load_bytes(data), None
    if path.endswith(".c"):
        from .ebpf.cc import compile_c

        result = compile_c(data.decode("utf-8", "replace"))
        for d in result.diagnostics:
            print(f"{path}:{d.line}:{d.col}: {d.severity}: {d.message}", file=sys.stderr)
        if not result.ok:
            raise CompileFailed(f"{path}: compilation failed" if result.available else
                                f"{path}: no C compiler is available ({result.log or 'see above'})")
        data = result.object
        path = path[:-2] + ".o"
    if path.endswith(".o") or data[:4] == b"\x7fELF":
        from .ebpf.elf import load_elf

        elf = load_elf(data, section)
        return elf.program, elf.prog_type
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start}); raw instructions need a .bin name") from None
    return assemble(text), None


def _hex_arg(value: str, name: str) -> bytes:
    cleaned = "".join(value.split())
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise UsageError(f"--{name}: not hex bytes: {value[:40]!r}") from None


def _assignment(text: str, option: str, int_value: bool = False) -> tuple[str, int | str]:
    name, eq, value = text.partition("=")
    if not eq or not name:
        raise UsageError(f"--{option}: expected NAME=VALUE, got {text!r}")
    if not int_value:
        return name, value
    try:
        return name, int(value, 0)
    except ValueError:
        raise UsageError(f"--{option} {name}: {value!r} is not a number") from None


def cmd_asm(args: argparse.Namespace) -> int:
    program, _ = _load(args.file)
    code = program.to_bytes()
    if args.output:
        Path(args.output).write_bytes(code)
    else:
        for i in range(0, len(code), 8):
            print(code[i:i + 8].hex())
    return 0


def cmd_disasm(args: argparse.Namespace) -> int:
    program, _ = _load(args.file, args.section) if args.file.endswith((".o", ".c")) else \
        (load_bytes(_read(args.file)), None)
    sys.stdout.write(disassemble(program, "log" if args.log else "asm"))
    return 0


def _map_arg(text: str, n: int) -> MapDef:
    parts = text.split(":")
    if len(parts) not in (4, 5):
        raise UsageError(f"--map {text!r}: expected TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES[:FLAGS]")
    try:
        sizes = [int(p, 0) for p in parts[1:]]
    except ValueError:
        raise UsageError(f"--map {text!r}: sizes must be numbers") from None
    return MapDef(f"map{n}", parts[0], *sizes)


def _seed_arg(text: str) -> MapSeed:
    parts = text.split(":")
    if len(parts) != 3:
        raise UsageError(f"--seed-map {text!r}: expected INDEX:KEYHEX:VALUEHEX")
    index = int(parts[0]) if parts[0].isdigit() else parts[0]
    return MapSeed(index, _hex_arg(parts[1], "seed-map"), _hex_arg(parts[2], "seed-map"))


def _env(args: argparse.Namespace) -> Env:
    fields = {f.name for f in dataclass_fields(Env)} - {"memory"}
    values: dict = {}
    for text in args.env:
        name, value = _assignment(text, "env")
        if name not in fields:
            raise UsageError(f"--env {name}: unknown setting ({', '.join(sorted(fields))})")
        if name == "comm":
            values[name] = value
            continue
        try:
            values[name] = int(value, 0)
        except ValueError:
            raise UsageError(f"--env {name}: {value!r} is not a number") from None
    blocks = []
    for option, user in (("user_mem", True), ("kernel_mem", False)):
        for text in getattr(args, option):
            addr, _, data = text.partition("=")
            try:
                blocks.append(MemoryBlock(int(addr, 0), _hex_arg(data, option.replace("_", "-")), user))
            except ValueError:
                raise UsageError(f"--{option.replace('_', '-')} {text!r}: expected ADDR=HEX") from None
    return Env(**values, memory=tuple(blocks))


def _packets(args: argparse.Namespace) -> list[bytes]:
    packets = [_hex_arg(p, "packet") for p in args.packet]
    packets += [build_packet(parse_spec(spec)) for spec in args.packet_spec]
    if args.pcap:
        packets += read_pcap(_read(args.pcap))
    return packets


def cmd_run(args: argparse.Namespace) -> int:
    program, file_type = _load(args.file, args.section)
    if args.type is None:
        args.type = file_type if file_type in PROG_TYPES else "raw"
    if args.map:
        program = replace(program, maps=program.maps + tuple(_map_arg(m, len(program.maps) + i)
                                                             for i, m in enumerate(args.map)))
    packets = _packets(args)
    if args.mem is not None and packets:
        raise UsageError("give either --mem or packets, not both")
    mem = _hex_arg(args.mem, "mem") if args.mem is not None else None
    ctx = dict(_assignment(a, "ctx", int_value=True) for a in args.ctx)
    strings = {k: v.encode() for k, v in (_assignment(a, "string") for a in args.string)}
    seeds = tuple(_seed_arg(s) for s in args.seed_map)
    env = _env(args)
    checked = None
    if args.type in PROG_TYPES and not args.no_verify:
        from .ebpf.verifier import verify

        checked = verify(program, args.type)
        verdict = {"accepted": checked.accepted, "verdict": checked.verdict,
                   "error": checked.error.to_json() if checked.error else None}
        if not checked.accepted:  # the kernel would not load it: nothing runs
            if args.json:
                print(json.dumps({"verifier": verdict}))
            else:
                where = f" at insn {checked.error.insn_idx}" if checked.error.insn_idx >= 0 else ""
                print(f"not run: the verifier {'stopped' if checked.verdict == 'incomplete' else 'rejects'} it"
                      f"{where}: {checked.error.message} ({checked.error.errno}); --no-verify runs it anyway")
            return 1
    if len(packets) > 1:
        results = run_packets(program, packets, prog_type=args.type, seeds=seeds, max_insns=args.max_insns,
                              env=env)
    else:
        results = [run(program, prog_type=args.type, mem=mem, packet=packets[0] if packets else None,
                       ctx=ctx or None, event=args.event, strings=strings or None, seeds=seeds,
                       max_insns=args.max_insns, env=env)]
    last = results[-1]
    if args.json:
        out = last.to_json()
        if checked is not None:
            out["verifier"] = verdict
        if len(results) > 1:
            out["runs"] = [{k: v for k, v in r.to_json().items() if k != "maps"} for r in results]
        print(json.dumps(out))
    else:
        for i, result in enumerate(results):
            prefix = f"packet {i + 1}: " if len(results) > 1 else ""
            if result.fault:
                print(f"{prefix}fault: {result.fault} (after {result.insns_executed} instructions)")
                continue
            name = f" {result.retval_name}" if result.retval_name else ""
            print(f"{prefix}retval: {result.retval} ({result.retval:#x}){name}")
            print(f"{prefix}insns executed: {result.insns_executed}")
            for out in result.output:
                print(f"{prefix}{out.kind}: {out.text}")
        for m in last.maps:
            print(_map_text(m))
    return 1 if any(r.fault for r in results) else 0


def _map_text(m: dict) -> str:
    """One line per map; arrays show only their non-zero entries."""
    entries = m.get("entries") or {}
    extra = {k: v for k, v in m.items()
             if k not in ("name", "type", "key_size", "value_size", "max_entries", "entries", "inner")}
    if m["type"].endswith("array"):
        shown = {k: v for k, v in entries.items() if set("".join(v) if isinstance(v, list) else v) - {"0"}}
        return f"map {m['name']} ({m['type']}, {len(entries)} entries, {len(shown)} non-zero): {json.dumps(shown)}"
    return f"map {m['name']} ({m['type']}): {json.dumps(entries or extra)}"


def cmd_verify(args: argparse.Namespace) -> int:
    from .ebpf.verifier import verify
    from .ebpf.verifier.walklog import kernel_log

    program, file_type = _load(args.file, args.section)
    prog_type = args.type or (file_type if file_type in PROG_TYPES else None)
    if prog_type is None:
        raise UsageError("verify needs a program type: --type xdp, socket_filter, ...")
    if args.map:
        program = replace(program, maps=program.maps + tuple(_map_arg(m, len(program.maps) + i)
                                                             for i, m in enumerate(args.map)))
    result = verify(program, prog_type, privileged=not args.unpriv)
    log = kernel_log(program, result, args.log_level) if args.log_level else result.log
    if args.json:
        out = result.to_json(walk=args.walk)
        out["log"] = log
        print(json.dumps(out))
    elif args.log_level:
        print(log, end="")
    elif result.accepted:
        print(f"accepted: processed {result.stats.processed} insns")
    else:
        where = f" at insn {result.error.insn_idx}" if result.error.insn_idx >= 0 else ""
        print(f"rejected{where}: {result.error.message} ({result.error.errno})")
        print(f"processed {result.stats.processed} insns")
    return 0 if result.accepted else 1


def cmd_conformance(args: argparse.Namespace) -> int:
    from .ebpf.conformance import run_suite

    directory = Path(args.directory)
    if not directory.is_dir():
        raise UsageError(f"{args.directory}: not a directory")
    suite = run_suite(directory)
    if args.json:
        print(json.dumps(suite.to_json(), indent=1))
    else:
        for r in suite.results:
            if r.status == "failed":
                print(f"FAIL {r.file}: expected {r.expected}, got {r.got}")
        for r in suite.results:
            if r.status == "skipped":
                print(f"skip {r.file}: {r.reason}")
        print(f"{suite.passed} passed, {suite.failed} failed, {suite.skipped} skipped")
    return 1 if suite.failed else 0


def cmd_lesson(args: argparse.Namespace) -> int:
    """``lesson`` lists the course; ``lesson SLUG`` prints one lesson; ``lesson SLUG FILE`` checks a program
    against that lesson's tests."""
    from .lessons import check_program, course, lesson_by_slug
    from .lessons.content import LANGUAGES as LESSON_SUFFIXES
    from .web.inputs import Limits

    if args.slug is None:
        for lesson in course():
            print(f"{lesson.number:2}  {lesson.slug:22} {lesson.hook:14} {lesson.title}")
        return 0
    lesson = lesson_by_slug(args.slug)
    if lesson is None:
        raise UsageError(f"no lesson {args.slug!r} (ebpf-playground lesson lists them)")
    if args.file is None:  # the lesson itself: its text, then where its starter is
        print(f"{lesson.number}. {lesson.title}  ({lesson.unit}; hook {lesson.hook})\n")
        print(lesson.text.rstrip() + "\n")
        for i, hint in enumerate(lesson.hints, 1):
            print(f"Hint {i}: {hint}")
        starters = ", ".join(f"starter{LESSON_SUFFIXES[lang]}" for lang in lesson.languages)
        print(f"\nStart from {starters} in lessons/{lesson.number:02}-{lesson.slug}/, then: "
              f"ebpf-playground lesson {lesson.slug} FILE")
        return 0
    language = args.language or ("c" if args.file.endswith(".c") else "asm")
    if language not in lesson.languages:
        raise UsageError(f"lesson {lesson.slug} is written in {', '.join(lesson.languages)}")
    source = _read(args.file).decode("utf-8", "replace")
    limits = Limits(MAX_FILE, 64 * 1024, DEFAULT_MAX_INSNS, verify_insns=1_000_000, run_seconds=0)  # no time limit
    report = check_program(lesson, source, language, limits)
    if args.json:
        print(json.dumps(report.to_json()))
        return 0 if report.passed else 1
    if report.insn is not None:
        print(f"{report.status}: the verifier rejects it at insn {report.insn}: {report.message}")
    elif report.message:
        print(f"{report.status}: {report.message}")
    for test in report.tests:
        print(f"{test.status:7} {test.name}")
        if test.message:
            print(f"        {test.message}")
        if test.expected or test.got:
            print(f"        expected: {test.expected}\n        got:      {test.got}")
    print(f"{lesson.slug}: {report.status}")
    return 0 if report.passed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ebpf-playground", description="eBPF assembler, disassembler and VM.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("asm", help="assemble kernel/LLVM (or legacy) syntax into raw instructions")
    p.add_argument("file")
    p.add_argument("-o", "--output", help="write raw little-endian instructions here (default: hex on stdout)")
    p.set_defaults(func=cmd_asm)

    p = sub.add_parser("disasm", help="disassemble raw instructions, an ELF object or C")
    p.add_argument("file")
    p.add_argument("--section", help="ELF objects: the program section (default: the first program)")
    p.add_argument("--log", action="store_true", help="print as the kernel verifier log does: '0: (b7) r0 = 0'")
    p.set_defaults(func=cmd_disasm)

    p = sub.add_parser("run", help="run a program in the VM")
    p.add_argument("file", help="assembly text, raw instructions (.bin), an ELF object (.o) or restricted C (.c)")
    p.add_argument("--section", help="ELF objects and C: the program section (default: the first program)")
    p.add_argument("--type", default=None, choices=["raw", *PROG_TYPES],
                   help="program type: raw (r1 = input address, r2 = input length) or a hook whose context "
                        "r1 points to, with the packet laid out as BPF_PROG_TEST_RUN does (default: what an ELF "
                        "section says, else raw)")
    p.add_argument("--mem", help="raw programs: input memory as hex; r1 points to it, r2 holds its length")
    p.add_argument("--packet", action="append", default=[],
                   help="input packet as hex, from the Ethernet header (raw programs: what ld_abs/ld_ind read, "
                        "r1/r2 as for --mem); repeatable: packets run one after another on the same maps")
    p.add_argument("--packet-spec", action="append", default=[], metavar="SPEC",
                   help="a packet built from fields, e.g. 'eth/ipv4(dst=10.0.0.2)/udp(dport=53)/payload(hi)'")
    p.add_argument("--pcap", help="run on every packet of a pcap or pcapng file")
    p.add_argument("--no-verify", action="store_true",
                   help="run even what the verifier rejects (hooks are verified first; raw programs never are)")
    p.add_argument("--map", action="append", default=[], metavar="TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES",
                   help="declare a map for raw bytecode (ld_imm64 map references use its position); repeatable")
    p.add_argument("--seed-map", action="append", default=[], metavar="INDEX:KEYHEX:VALUEHEX",
                   help="set a map entry before the run (INDEX may be the map's name); repeatable")
    p.add_argument("--ctx", action="append", default=[], metavar="FIELD=VALUE",
                   help="context field for kprobe (di, arg1..arg5, ax ...), tracepoint, raw_tracepoint (args0..), "
                        "perf_event and cgroup_sock_addr programs; repeatable")
    p.add_argument("--event", help="tracepoint programs: the event, e.g. syscalls/sys_enter_openat")
    p.add_argument("--string", action="append", default=[], metavar="FIELD=TEXT",
                   help="tracepoint programs: the text of a __data_loc string field")
    p.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                   help="the environment helpers see: clock_start_ns, clock_tick_ns, seed, cpu, ncpus, pid, tgid, "
                        "uid, gid, comm, ...; repeatable")
    p.add_argument("--user-mem", action="append", default=[], metavar="ADDR=HEX",
                   help="simulated user memory for bpf_probe_read_user*; repeatable")
    p.add_argument("--kernel-mem", action="append", default=[], metavar="ADDR=HEX",
                   help="simulated kernel memory for bpf_probe_read_kernel*; repeatable")
    p.add_argument("--max-insns", type=int, default=DEFAULT_MAX_INSNS,
                   help=f"instruction limit (default {DEFAULT_MAX_INSNS})")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("verify", help="check a program as the kernel's verifier would (privileged loader)")
    p.add_argument("file", help="assembly text, raw instructions (.bin), an ELF object (.o) or restricted C (.c)")
    p.add_argument("--type", choices=list(PROG_TYPES), help="program type (default: what an ELF section says)")
    p.add_argument("--section", help="ELF objects and C: the program section")
    p.add_argument("--json", action="store_true", help="print the VerifierResult as JSON")
    p.add_argument("--map", action="append", default=[], metavar="TYPE:KEY_SIZE:VALUE_SIZE:MAX_ENTRIES",
                   help="declare a map for raw bytecode (ld_imm64 map references use its position); repeatable")
    p.add_argument("--unpriv", action="store_true",
                   help="check as for a loader without CAP_BPF: socket filters and cgroup_skb only, at most 4096 "
                        "instructions, no bounded loops, every scalar precise, no pointer leaks, no reads of "
                        "uninitialised stack, stack pointers kept constant (partial: not every Spectre check)")
    p.add_argument("--log-level", type=int, choices=(1, 2),
                   help="print the log in the kernel's format: 2 the whole walk, 1 the walk of a rejected "
                        "program and only the statistics of an accepted one, as the kernel does")
    p.add_argument("--walk", action="store_true", help="with --json: include the walk's events")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("conformance", help="run bpf_conformance / uBPF .data test files")
    p.add_argument("directory")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_conformance)

    p = sub.add_parser("lesson", help="list the lessons, print one, or check a program against its tests")
    p.add_argument("slug", nargs="?", help="the lesson (without it: list them all)")
    p.add_argument("file", nargs="?", help="the program: assembly, or C (.c)")
    p.add_argument("--language", choices=("asm", "c"), help="default: c for a .c file, else asm")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_lesson)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"ebpf-playground: {e}", file=sys.stderr)
        return 2
    except InputError as e:
        print(f"ebpf-playground: {e}", file=sys.stderr)
        return 2
    except (AsmError, DecodeError, EbpfError) as e:
        print(f"{args.file if hasattr(args, 'file') else ''}: {e}", file=sys.stderr)
        return 1
    except CompileFailed as e:
        print(f"ebpf-playground: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
