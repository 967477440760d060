"""Assembly text -> ``Program``.

Two syntaxes are read, line by line, and may be mixed:

* the kernel/LLVM syntax (``r0 = 1``, ``if r1 s> 5 goto +2``, ``*(u32 *)(r10 - 4) = r1``), including the
  verifier log's spelling of it (``12: (b7) r0 = 0``, ``goto pc+2``, ``if r1 > 0x5 goto pc+1``,
  ``call bpf_map_lookup_elem#1``) and ``llvm-objdump`` lines with raw bytes;
* the legacy mnemonic syntax of the uBPF and bpf_conformance suites (``mov %r0, 1``, ``ldxw %r0,
  [%r1+4]``, ``jeq %r1, 2, +1``, ``lddw``, ``exit`` as a jump target), see ``legacy.py``.

Directives that ``clang -S`` and ``llvm-mc`` emit (``.text``, ``.section``, ``.globl``, ``.p2align``, ``.type``,
``.size``, ``.file`` ...) are accepted; only code sections contribute instructions. Maps are declared with::

    .map NAME type=hash key_size=4 value_size=8 max_entries=16 [flags=0]

and referred to as LLVM does, ``r1 = NAME ll`` (an ``ld_imm64`` with ``src = BPF_PSEUDO_MAP_FD`` and the
map's index as its fd).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import isa
from ..errors import AsmError
from ..helpers import helper_id, helper_name
from ..insn import Insn, ld_imm64_pair, to_s16, to_s32
from ..program import MapDef, Program
from . import legacy, templates
from .lexer import Token, strip_comments, strip_prefix, tokenize

MAX_INSNS = 1_000_000  # slots; BPF_COMPLEXITY_LIMIT_INSNS is the kernel's limit on one program

_LABEL = re.compile(r"\s*([A-Za-z_.$][\w.$]*)\s*:(?!=)")
_DIRECTIVE = re.compile(r"\s*(\.[A-Za-z_0-9][\w.]*)\b\s*(.*)$")
_IGNORED_DIRECTIVES = {
    ".globl", ".global", ".local", ".weak", ".hidden", ".protected", ".p2align", ".align", ".balign", ".type",
    ".size", ".file", ".loc", ".addrsig", ".addrsig_sym", ".ident", ".previous", ".popsection", ".set",
    ".equ", ".weakref", ".symver", ".build_version", ".functype", ".extern",
}
_DATA_DIRECTIVES = {".byte", ".short", ".hword", ".2byte", ".long", ".int", ".4byte", ".word", ".quad", ".8byte",
                    ".ascii", ".asciz", ".string", ".zero", ".space", ".skip", ".fill", ".uleb128", ".sleb128"}
_MAP_TYPES = ("hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array", "stack_trace",
              "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps", "hash_of_maps",
              "devmap", "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage", "reuseport_sockarray",
              "percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash", "struct_ops", "ringbuf",
              "inode_storage", "task_storage", "bloom_filter", "user_ringbuf", "cgrp_storage", "arena")


MAP_NAME = re.compile(r"[A-Za-z_]\w*")
"""What ``.map NAME ...`` takes as a name (``format.map_directive`` writes the directive back)."""

_REGISTER_FIELD = {"dst": "dst", "rdst": "dst", "src": "src", "rsrc": "src", "wsrc": "src"}


@dataclass
class _Pending:
    """An instruction whose operands may name labels not yet seen."""

    line: int
    spec: isa.OpSpec
    values: dict[str, int]
    refs: dict[str, Token] = field(default_factory=dict)  # operand -> label/map/helper name token
    raw: int | None = None  # for .8byte


def assemble(text: str) -> Program:
    """Assemble text into a ``Program``. Raises ``AsmError`` (line, col, message) at the first error."""
    return _Assembler().run(text)


class _Assembler:
    """Two passes. Pass 1 collects instructions per code section, with labels as (section, slot);
    programs in named sections (``.section xdp,"ax"``) are laid out first, in the order they appear, and
    ``.text`` (where clang puts subprograms) last, as libbpf lays them out. Pass 2 resolves operands."""

    def __init__(self) -> None:
        self.sections: dict[str, list[_Pending]] = {".text": []}
        self.section = ".text"
        self.section_labels: dict[str, tuple[str, int]] = {}
        self.labels: dict[str, int] = {}
        self.label_lines: dict[str, tuple[int, int]] = {}
        self.maps: list[MapDef] = []
        self.slots: dict[str, int] = {".text": 0}
        self.total = 0
        self.in_code = True
        self.pending: list[_Pending] = []

    def run(self, text: str) -> Program:
        for number, line in enumerate(strip_comments(text), start=1):
            self.line(number, line)
        named = [name for name in self.sections if name != ".text" and self.sections[name]]
        base, slot = {}, 0
        for name in named + [".text"]:
            base[name] = slot
            slot += self.slots[name]
            self.pending.extend(self.sections[name])
        self.labels = {label: base[sec] + off for label, (sec, off) in self.section_labels.items()}
        insns: list[Insn] = []
        lines: list[int] = []
        for p in self.pending:
            new = self.resolve(p)
            insns.extend(new)
            lines.extend([p.line] * len(new))
        names = {pc: name for name, pc in self.labels.items() if pc < len(insns)}
        entries = tuple((name, base[name]) for name in named)
        if entries and self.slots[".text"] and not any(pc == 0 for _, pc in entries):
            entries = ((".text", 0),) + entries
        return Program(tuple(insns), tuple(self.maps), names, tuple(lines), entries)

    # --- pass 1: lines ------------------------------------------------------------------------------------

    def line(self, number: int, line: str) -> None:
        rest, start = strip_prefix(line)
        opcode_hint = None
        hint = re.match(r"\s*(?:[0-9]+:\s*)?\(\s*([0-9a-fA-F]{2})\s*\)", line)
        if hint:
            opcode_hint = int(hint.group(1), 16)
        while True:
            m = _LABEL.match(rest)
            if not m:
                break
            name = m.group(1)
            if name in self.section_labels:
                first = self.label_lines[name][0]
                raise AsmError(number, start + m.start(1) + 1, f"label '{name}' is already defined on line {first}")
            if self.in_code:
                self.section_labels[name] = (self.section, self.slots[self.section])
                self.label_lines[name] = (number, start + m.start(1) + 1)
            start += m.end()
            rest = rest[m.end():]
        if not rest.strip():
            return
        d = _DIRECTIVE.match(rest)
        if d:
            self.directive(number, start + d.start(1) + 1, d.group(1), d.group(2))
            return
        if not self.in_code:
            return
        col0 = start
        tokens = tokenize(rest, number, col0)
        if not tokens:
            return
        if opcode_hint == 0x18 and tokens[-1].text != "ll":
            tokens.append(Token("ident", "ll", tokens[-1].col))
        if legacy.is_legacy(tokens):
            self.add(legacy.parse(tokens, number))
        else:
            self.add(self.parse_kernel_syntax(tokens, number))

    def add(self, p: _Pending | legacy.Parsed) -> None:
        if isinstance(p, legacy.Parsed):
            p = _Pending(p.line, p.spec, p.values, p.refs)
        self.sections[self.section].append(p)
        size = p.spec.slots if p.raw is None else 1
        self.slots[self.section] += size
        self.total += size
        if self.total > MAX_INSNS:
            raise AsmError(p.line, 1, f"program too large: more than {MAX_INSNS} instructions")

    def enter_section(self, name: str) -> None:
        self.section = name
        self.sections.setdefault(name, [])
        self.slots.setdefault(name, 0)

    def directive(self, number: int, col: int, name: str, args: str) -> None:
        if name == ".map":
            self.maps.append(self.parse_map(number, col, args))
            return
        if name in (".text",):
            self.in_code = True
            self.enter_section(".text")
            return
        if name in (".data", ".bss", ".rodata"):
            self.in_code = False
            return
        if name in (".section", ".pushsection"):
            self.in_code = _is_code_section(args)
            if self.in_code:
                section = args.split(",")[0].strip().strip('"')
                self.enter_section(section or ".text")
            return
        if name in _IGNORED_DIRECTIVES or name.startswith(".cfi_"):
            return
        if name in _DATA_DIRECTIVES:
            if not self.in_code:
                return
            if name in (".8byte", ".quad"):
                for i, part in enumerate(p.strip() for p in args.split(",")):
                    try:
                        value = int(part, 0)
                    except ValueError:
                        raise AsmError(number, col, f"{name} expects numbers, got {part!r}") from None
                    if not -(1 << 63) <= value < (1 << 64):
                        raise AsmError(number, col, f"{name} value {part} does not fit in 64 bits")
                    self.add(_Pending(number, isa.BY_NAME["exit"], {}, raw=value & ((1 << 64) - 1)))
                return
            raise AsmError(number, col, f"data directive {name} inside a code section (only .8byte/.quad "
                                        f"instruction words are allowed there)")
        raise AsmError(number, col, f"unknown directive '{name}'")

    def parse_map(self, number: int, col: int, args: str) -> MapDef:
        parts = args.replace(",", " ").split()
        if not parts or not MAP_NAME.fullmatch(parts[0]):
            raise AsmError(number, col, ".map needs a name: .map NAME type=hash key_size=4 value_size=8 "
                                        "max_entries=16")
        name = parts[0]
        if any(m.name == name for m in self.maps):
            raise AsmError(number, col, f"map '{name}' is already declared")
        opts: dict[str, str] = {}
        for part in parts[1:]:
            key, eq, value = part.partition("=")
            if not eq or key not in ("type", "key_size", "value_size", "max_entries", "flags", "inner"):
                raise AsmError(number, col, f".map {name}: unknown option {part!r} (type, key_size, value_size, "
                                            f"max_entries, flags, inner)")
            opts[key] = value
        missing = [k for k in ("type", "key_size", "value_size", "max_entries") if k not in opts]
        if missing:
            raise AsmError(number, col, f".map {name}: missing {', '.join(missing)}")
        mtype = opts["type"].removeprefix("BPF_MAP_TYPE_").lower()
        if mtype not in _MAP_TYPES:
            raise AsmError(number, col, f".map {name}: unknown map type {opts['type']!r}")
        nums = {}
        inner = opts.get("inner", "")
        if inner and not any(m.name == inner for m in self.maps):
            raise AsmError(number, col, f".map {name}: inner={inner} names no map declared before it")
        if mtype in ("array_of_maps", "hash_of_maps") and not inner:
            raise AsmError(number, col, f".map {name}: a {mtype} needs inner=MAP (the shape of its inner maps)")
        for k in ("key_size", "value_size", "max_entries", "flags"):
            try:
                nums[k] = int(opts.get(k, "0"), 0)
            except ValueError:
                raise AsmError(number, col, f".map {name}: {k} must be a number, got {opts[k]!r}") from None
            if not 0 <= nums[k] < (1 << 32):
                raise AsmError(number, col, f".map {name}: {k} out of range")
        return MapDef(name, mtype, nums["key_size"], nums["value_size"], nums["max_entries"], nums["flags"],
                      inner=inner)

    def parse_kernel_syntax(self, tokens: list[Token], number: int) -> _Pending:
        cands = templates.candidates(tokens)
        problems: list[tuple[str, int]] = []
        for skel in cands:
            bound = templates.bind(skel, tokens)
            if isinstance(bound, tuple):
                problems.append(bound)
                continue
            spec = skel.spec
            if spec.op in ("call", "call_local"):
                tok = bound.pop("target", None) or bound.pop("helper")
                spec = self.call_kind(tok, number)
                bound["helper" if spec.op == "call" else "target"] = tok
            return self.operands(spec, bound, number)
        if problems:
            regs = [t for t in tokens if t.kind == "reg"]
            mixed = [t for t in regs if t.prefix != regs[0].prefix]
            if mixed and all("-bit register" in m for m, _ in problems):
                raise AsmError(number, mixed[0].col, f"cannot mix 32-bit (w) and 64-bit (r) registers here: "
                                                     f"'{regs[0].text}' and '{mixed[0].text}'")
            message, col = problems[0]
            raise AsmError(number, col, message)
        pos, expected = templates.closest(tokens)
        wanted = templates.describe_expected(expected)
        if pos < len(tokens):
            tok = tokens[pos]
            raise AsmError(number, tok.col, f"unexpected '{tok.text}': expected {wanted}")
        last = tokens[-1]
        raise AsmError(number, last.col + len(last.text), f"incomplete instruction: expected {wanted}")

    def call_kind(self, tok: Token, number: int) -> isa.OpSpec:
        if tok.kind == "num":
            return isa.BY_NAME["call_local" if tok.prefix in ("+", "-", "pc") else "call"]
        name, _, num = tok.text.partition("#")
        if num:
            return isa.BY_NAME["call"]
        if helper_id(name) is not None and not name.startswith(".L"):
            return isa.BY_NAME["call"]
        return isa.BY_NAME["call_local"]

    def operands(self, spec: isa.OpSpec, bound: dict[str, Token], number: int) -> _Pending:
        values: dict[str, int] = {}
        refs: dict[str, Token] = {}
        for name, tok in bound.items():
            if name in _REGISTER_FIELD:
                values[_REGISTER_FIELD[name]] = tok.value
                continue
            if tok.kind == "ident":
                refs[name] = tok
                continue
            values[name] = tok.value
        if "helper" in values:
            values["imm"] = values.pop("helper")
        p = _Pending(number, spec, values, refs)
        _check_ranges(p, bound)
        return p

    # --- pass 2: resolve ----------------------------------------------------------------------------------

    def resolve(self, p: _Pending) -> tuple[Insn, ...]:
        if p.raw is not None:
            return (Insn(p.raw & 0xFF, (p.raw >> 8) & 0xF, (p.raw >> 12) & 0xF, to_s16(p.raw >> 16),
                         to_s32(p.raw >> 32)),)
        spec = p.spec
        values = dict(p.values)
        pc = self.pc_of(p)
        for name, tok in p.refs.items():
            if name == "target":
                if spec.op == "call_local" and tok.text not in self.labels:
                    what = "helper" if tok.text.startswith("bpf_") else "function (no such label)"
                    raise AsmError(p.line, tok.col, f"unknown {what} '{tok.text}'")
                values["target"] = self.label_target(tok, p.line) - pc - 1
            elif name == "helper":
                hname, _, num = tok.text.partition("#")
                hid = helper_id(hname)
                if num:
                    if hid is not None and hid != int(num) and helper_name(int(num)) is not None:
                        raise AsmError(p.line, tok.col, f"'{tok.text}': helper {hname} has id {hid}, not {num}")
                    values["imm"] = int(num)
                elif hid is None:
                    raise AsmError(p.line, tok.col, f"unknown helper '{hname}'")
                else:
                    values["imm"] = hid
            elif name == "imm64":
                index = next((i for i, m in enumerate(self.maps) if m.name == tok.text), None)
                if index is None:
                    raise AsmError(p.line, tok.col, f"unknown symbol '{tok.text}' (declare maps with .map NAME "
                                                    f"type=... key_size=... value_size=... max_entries=...)")
                spec = isa.BY_NAME["ld_map_fd"]
                values["imm"] = index
            else:
                raise AsmError(p.line, tok.col, f"expected a number, got '{tok.text}'")
        return _build(spec, values, p.line, pc)

    def pc_of(self, p: _Pending) -> int:
        # Pending entries are resolved in order; compute slot indexes lazily once.
        if not hasattr(self, "_pcs"):
            self._pcs = {}
            slot = 0
            for q in self.pending:
                self._pcs[id(q)] = slot
                slot += 1 if q.raw is not None else q.spec.slots
        return self._pcs[id(p)]

    def label_target(self, tok: Token, line: int) -> int:
        if tok.text in self.labels:
            return self.labels[tok.text]
        if tok.text == "exit":  # legacy: 'exit' names the first exit instruction
            for q in self.pending:
                if q.raw is None and q.spec.op == "exit":
                    return self.pc_of(q)
        raise AsmError(line, tok.col, f"unknown label '{tok.text}'")


def _is_code_section(args: str) -> bool:
    parts = [p.strip().strip('"') for p in args.split(",")]
    name = parts[0] if parts else ""
    if len(parts) > 1:
        return "x" in parts[1]
    if name in ("license", "maps", "version", ".maps", "license.") or name.startswith((".BTF", ".debug", ".rodata",
                                                                                      ".data", ".bss", ".rel",
                                                                                      ".llvm", ".note")):
        return False
    return True


def _check_ranges(p: _Pending, bound: dict[str, Token]) -> None:
    spec = p.spec
    for name, value in p.values.items():
        tok = bound.get(name) or bound.get("helper")
        col = tok.col if tok else 1
        if name in ("imm", "imm2") and tok is not None:
            legacy.check_imm32(tok, p.line)
        if name == "off" and not -(1 << 15) <= value < (1 << 15):
            raise AsmError(p.line, col, f"offset {tok.text if tok else value} does not fit in 16 bits "
                                        f"(-32768..32767)")
        if name == "imm64" and not -(1 << 63) <= value < (1 << 64):
            raise AsmError(p.line, col, f"immediate {tok.text if tok else value} does not fit in 64 bits")


def _build(spec: isa.OpSpec, values: dict[str, int], line: int, pc: int) -> tuple[Insn, ...]:
    dst = values.get("dst", 0)
    src = values.get("src", 0)
    off = values.get("off", 0)
    imm = values.get("imm", 0)
    if "target" in values:
        delta = values["target"]
        if spec.name in ("gotol", "call_local", "ld_func"):
            if not -(1 << 31) <= delta < (1 << 31):
                raise AsmError(line, 1, f"jump offset {delta} does not fit in 32 bits")
            imm = delta
        else:
            if not -(1 << 15) <= delta < (1 << 15):
                raise AsmError(line, 1, f"jump offset {delta} does not fit in 16 bits (use gotol for far jumps)")
            off = delta
    for fname, fvalue in spec.fixed:
        if fname == "dst":
            dst = fvalue
        elif fname == "src":
            src = fvalue
        elif fname == "off":
            off = fvalue
        else:
            imm = fvalue
    if spec.op == "ld_imm64":
        if spec.name == "ld_imm64":
            return ld_imm64_pair(spec.opcode, dst, src, values.get("imm64", 0))
        return (Insn(spec.opcode, dst, src, 0, to_s32(imm)), Insn(0, 0, 0, 0, to_s32(values.get("imm2", 0))))
    return (Insn(spec.opcode, dst, src, to_s16(off), to_s32(imm)),)
