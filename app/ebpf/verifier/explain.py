"""What a verifier message means and how such programs are usually fixed: one catalogue for every message.

The verifier speaks in the kernel's words (``R1 type=scalar expected=fp``, ``invalid access to packet, off=14
size=1, R2(id=0,off=14,r=0)``). :data:`ENTRIES` pairs each message format with a plain explanation: a
title, what the check is and why the kernel refuses (``meaning``), the usual fix with an optional snippet
(``fix``, ``example``), the function of ``kernel/bpf/verifier.c`` that makes the check (``check``) and the
slug of the lesson that teaches it (``lesson``, one of :data:`LESSON_SLUGS`).

``explain(message)`` finds the entry whose pattern matches the whole message. The table is ordered from
specific to general (``R0 invalid mem access 'map_value_or_null'`` has its own entry before the one for any
``invalid mem access``), so the first match wins. Patterns capture the numbers and names a message
carries (register, offsets, sizes); an entry's ``detail`` sentence is filled in with them.

It covers the messages of the Linux verifier that the corpus (``tests/data/verifier``) records and every
message our verifier emits; ``tests/test_verifier_explain.py`` fails when a new message has no entry. A
few messages are the playground's own (the kernel says nothing there, or something we do not model):
their ``check`` is empty. The texts are written for this project; the facts follow Linux 6.x.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

KERNEL_SOURCE = "kernel/bpf/verifier.c"  # where every ``check`` function lives

#: The lessons the catalogue points to, in teaching order: ``lessons/NN-slug`` (``/learn/<slug>``);
#: ``tests/test_lessons.py`` checks that each exists.
LESSON_SLUGS = (
    "registers",
    "program-structure",
    "alu",
    "stack",
    "ctx-access",
    "packet-bounds",
    "maps-null-check",
    "map-values",
    "pointer-arithmetic",
    "helpers-args",
    "references",
    "calls",
    "loops",
    "exit-return-value",
    "limits",
    "tail-calls",
)


@dataclass(frozen=True)
class Entry:
    """One message format: a stable ``key``; the ``pattern`` a whole message must match (named groups are the
    parts worth reading out); a short ``title``; the verifier function that refuses (``check``, in
    :data:`KERNEL_SOURCE`; empty for the playground's own messages); ``meaning`` (what the check is and
    why it exists); ``fix`` (how such programs are usually fixed) with an optional ``example`` in our
    assembly; the ``lesson`` slug; and ``detail``, a sentence with ``{group}`` fields filled in from the
    message (may be empty)."""

    key: str
    pattern: re.Pattern[str]
    title: str
    check: str
    meaning: str
    fix: str
    lesson: str
    example: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Explanation:
    """An entry applied to one message: the ``entry``, the ``message`` itself, the ``parts`` its pattern
    captured (group name to text) and the entry's ``detail`` filled in with them ("" when it has none)."""

    entry: Entry
    message: str
    parts: dict[str, str]
    detail: str


def explain(message: str) -> Explanation | None:
    """The first entry of :data:`ENTRIES` whose pattern matches all of ``message`` (surrounding whitespace
    ignored), applied to it; None for a message the catalogue does not know."""
    text = message.strip()
    for entry in ENTRIES:
        match = entry.pattern.fullmatch(text)
        if match:
            parts = {name: value for name, value in match.groupdict().items() if value is not None}
            return Explanation(entry, text, parts, entry.detail.format(**parts) if entry.detail else "")
    return None


ACCESS = r"(?P<access>read from|write to|indirect access to)"  # check_stack_access_within_bounds' err_extra

ENTRIES: tuple[Entry, ...] = (
    # --- registers -----------------------------------------------------------------------------------------
    Entry(
        key="reg-not-init",
        pattern=re.compile(r"R(?P<reg>\d+) !read_ok"),
        title="Reading a register that holds no value",
        check="check_reg_arg",
        meaning="At the start only R1 (the context) and R10 (the frame pointer) hold values, and every call "
                "(of a helper or a function) leaves R1-R5 empty again. The verifier refuses an instruction "
                "that reads a register no instruction has written on this path: its content would be whatever "
                "the kernel left there.",
        fix="Write the register before reading it, on every path that gets here. Before exit, set R0 to the "
            "return value. Values needed after a helper call belong in R6-R9, which calls preserve.",
        example="r0 = 2      /* XDP_PASS */\nexit",
        lesson="registers",
        detail="R{reg} is read here, but no instruction on this path has written it.",
    ),
    Entry(
        key="reg-invalid",
        pattern=re.compile(r"R(?P<reg>\d+) is invalid"),
        title="A register that does not exist",
        check="check_reg_arg",
        meaning="eBPF has eleven registers, R0 to R10. An instruction whose register field names a higher "
                "number is refused.",
        fix="Use r0-r10. This usually comes from bytes written by hand or a broken encoder.",
        lesson="registers",
    ),
    Entry(
        key="fp-read-only",
        pattern=re.compile(r"frame pointer is read only"),
        title="Writing the frame pointer R10",
        check="check_reg_arg",
        meaning="R10 points to the top of the function's 512-byte stack frame, and the verifier relies on it "
                "never changing. Any instruction that writes R10 is refused.",
        fix="Copy R10 into another register and move the copy.",
        example="r2 = r10\nr2 += -8    /* r2 = fp-8 */",
        lesson="registers",
    ),
    Entry(
        key="scalar-deref",
        pattern=re.compile(r"R(?P<reg>\d+) invalid mem access 'scalar'"),
        title="Using a number as a pointer",
        check="check_mem_access",
        meaning="The register holds a number, not a pointer the verifier can follow, so there is no object to "
                "check the load or store against. Usual causes: a value loaded from memory (loads give "
                "numbers, except a pointer saved on the stack and context fields such as data and data_end), "
                "or a packet pointer that a helper able to move the packet "
                "(bpf_skb_store_bytes, bpf_xdp_adjust_head, ...) has invalidated.",
        fix="Derive pointers from what the verifier knows: R10, the context in R1, context fields that are "
            "pointers, a helper's return value. After a helper that changes the packet, load data and "
            "data_end from the context again and redo the bounds check.",
        lesson="registers",
    ),
    # --- program structure --------------------------------------------------------------------------------
    Entry(
        key="no-instructions",
        pattern=re.compile(r"the program has no instructions.*"),
        title="An empty program",
        check="",
        meaning="BPF_PROG_LOAD refuses a program of zero instructions with E2BIG before the verifier runs "
                "(bpf_prog_load in kernel/bpf/syscall.c). The kernel logs nothing; this text is the "
                "playground's.",
        fix="A program needs at least a return value and an exit.",
        example="r0 = 0\nexit",
        lesson="program-structure",
    ),
    Entry(
        key="unprivileged-prog-type",
        pattern=re.compile(r"an unprivileged loader may load only .* programs \(BPF_PROG_LOAD refuses a "
                           r"(?P<type>\w+) program with EPERM\)"),
        title="A program type unprivileged users may not load",
        check="",
        meaning="Without CAP_BPF (or CAP_SYS_ADMIN), BPF_PROG_LOAD accepts only socket filters and cgroup_skb "
                "programs, and refuses every other type with EPERM before the verifier runs (bpf_prog_load in "
                "kernel/bpf/syscall.c). The kernel logs nothing; this text is the playground's.",
        fix="Load it as root (or with CAP_BPF and the capabilities its helpers need), or write it as a socket "
            "filter.",
        lesson="program-structure",
    ),
    Entry(
        key="unprivileged-too-many-insns",
        pattern=re.compile(r"the program has [\d,]+ instructions; an unprivileged loader may load at most [\d,]+.*"),
        title="A program too long for an unprivileged loader",
        check="",
        meaning="Without CAP_BPF, BPF_PROG_LOAD refuses a program of more than 4,096 instructions (BPF_MAXINSNS) "
                "with E2BIG before the verifier runs; with it, the limit is 1,000,000 "
                "(bpf_prog_load in kernel/bpf/syscall.c). The kernel logs nothing; this text is the playground's.",
        fix="Shorten the program (loops instead of unrolled code, subprograms), or load it with CAP_BPF.",
        lesson="program-structure",
    ),
    Entry(
        key="unknown-opcode",
        pattern=re.compile(r"unknown opcode (?P<opcode>[0-9a-f]+)"),
        title="An opcode the kernel does not know",
        check="resolve_pseudo_ldimm64",
        meaning="Before the walk the kernel scans every instruction and refuses an opcode byte that is not in "
                "its instruction table (bpf_opcode_in_insntable); do_check refuses one again if it gets "
                "there.",
        fix="Look at the bytes: data placed among the instructions, an ld_imm64 cut in half, or an "
            "instruction from a newer ISA than the kernel supports.",
        lesson="program-structure",
        detail="Opcode 0x{opcode} is not an eBPF instruction.",
    ),
    Entry(
        key="reserved-fields",
        pattern=re.compile(r"(?P<insn>\S+) uses reserved fields"),
        title="An instruction with unused fields set",
        check="do_check",
        meaning="Each instruction leaves some fields unused: exit takes no registers and no immediate; a "
                "register-to-register ALU operation takes no immediate. They must be zero, so that a later "
                "kernel can give them a meaning without changing what old programs do. ALU instructions are "
                "checked by check_alu_op, jumps, calls and exit by do_check.",
        fix="Re-encode the instruction with the unused fields (dst, src, off or imm) set to zero. Hand-written "
            "bytes and broken encoders are the usual source.",
        lesson="program-structure",
    ),
    Entry(
        key="ldimm64-invalid",
        pattern=re.compile(r"invalid bpf_ld_imm64 insn"),
        title="A broken 64-bit immediate load",
        check="resolve_pseudo_ldimm64",
        meaning="ld_imm64 fills two instruction slots. The second slot carries only the upper 32 bits of the "
                "value: its opcode, registers and offset must be zero, and it must exist.",
        fix="Let the assembler write the load (r1 = 0x1122334455667788 ll) and never place a jump target or "
            "the end of the program between the two halves.",
        lesson="program-structure",
    ),
    Entry(
        key="ldimm64-unrecognized",
        pattern=re.compile(r"unrecognized bpf_ld_imm64 insn"),
        title="An ld_imm64 of an unknown kind",
        check="resolve_pseudo_ldimm64",
        meaning="The source-register field of ld_imm64 says what is loaded: a constant, a map, an address in a "
                "map value, a kernel variable, a function. A value the kernel gives no meaning is refused, and "
                "so is a map load whose second half is not zero.",
        fix="Use one of the forms the assembler knows: a number, a map name, map_value(N, OFF) or func(label).",
        lesson="program-structure",
    ),
    Entry(
        key="ldimm64-middle",
        pattern=re.compile(r"jump into the middle of ldimm64 insn (?P<insn>\d+)"),
        title="A jump into the second half of ld_imm64",
        check="check_cfg",
        meaning="The second slot of a 64-bit immediate load is not an instruction of its own; a jump that "
                "lands on it is refused.",
        fix="Count ld_imm64 as two instructions in jump offsets, or use labels and let the assembler count.",
        lesson="program-structure",
    ),
    Entry(
        key="jump-out-of-range",
        pattern=re.compile(r"jump out of range from insn (?P<insn>\d+) to (?P<target>-?\d+)"),
        title="A jump outside its function",
        check="check_subprogs",
        meaning="Every jump must land inside the function it belongs to. check_subprogs splits the program at "
                "each bpf-to-bpf call target and refuses a jump that leaves its function or the program; "
                "check_cfg checks again while exploring the paths.",
        fix="Fix the offset: it counts from the instruction after the jump (goto +0 goes to the next one) and "
            "ld_imm64 counts twice. Labels avoid counting by hand.",
        lesson="program-structure",
        detail="Instruction {insn} jumps to {target}.",
    ),
    Entry(
        key="last-insn",
        pattern=re.compile(r"last insn is not an exit or jmp"),
        title="A function that can run off its end",
        check="check_subprogs",
        meaning="Execution must never fall off the end of a function, so the last instruction of the program "
                "and of every subprogram must be exit or an unconditional jump.",
        fix="End every function with exit, after setting r0. When subprograms follow the main program, check "
            "that the main program itself ends in exit.",
        example="r0 = 0\nexit",
        lesson="program-structure",
    ),
    Entry(
        key="unreachable",
        pattern=re.compile(r"unreachable insn (?P<insn>\d+)"),
        title="Dead code",
        check="check_cfg",
        meaning="check_cfg follows every path from the start (and from every subprogram) before the walk. An "
                "instruction that no path reaches is refused: it is dead code or a sign that a jump is wrong.",
        fix="Delete the dead instructions, or fix the jump that should reach them: code after exit or an "
            "unconditional goto needs a label that some jump targets.",
        lesson="program-structure",
        detail="No path from the start reaches instruction {insn}.",
    ),
    Entry(
        key="fd-not-map",
        pattern=re.compile(r"fd (?P<fd>-?\d+) is not pointing to valid bpf_map"),
        title="A map reference to no map",
        check="resolve_pseudo_ldimm64",
        meaning="A map load (ld_imm64 with BPF_PSEUDO_MAP_FD) carries a file descriptor from BPF_MAP_CREATE; a "
                "number that is not an open map is refused. In the playground the number is the index of a "
                ".map declaration.",
        fix="Declare the map with a .map line and refer to it by name (r1 = counts ll).",
        lesson="map-values",
    ),
    Entry(
        key="fd-idx-range",
        pattern=re.compile(r"fd_idx (?P<idx>-?\d+) is out of range.*"),
        title="A map index past the declared maps",
        check="",
        meaning="map_idx(N) refers to the N-th map the loader passes in fd_array (BPF_PSEUDO_MAP_IDX). The "
                "playground's fd_array is the list of .map declarations, and N is past its end; this message "
                "is the playground's.",
        fix="Declare the map, or refer to it by name (r1 = counts ll).",
        lesson="map-values",
    ),
    Entry(
        key="btf-id-unavailable",
        pattern=re.compile(r"kernel variables \(ld_imm64 with BPF_PSEUDO_BTF_ID\) are not available here"),
        title="Kernel variables are not available here",
        check="",
        meaning="ld_imm64 with BPF_PSEUDO_BTF_ID loads the address of a kernel variable found through the "
                "kernel's BTF (check_pseudo_btf_id). The playground runs no kernel to take such addresses "
                "from, so it refuses these loads; the message is the playground's.",
        fix="Keep the data in a map or a global variable instead.",
        lesson="map-values",
    ),
    # --- ALU ----------------------------------------------------------------------------------------------
    Entry(
        key="div-by-zero",
        pattern=re.compile(r"div by zero"),
        title="Division by the constant 0",
        check="check_alu_op",
        meaning="A division or modulo by the immediate 0 is refused. A divisor in a register is allowed even "
                "if it may be zero at run time: eBPF defines x / 0 as 0 and x % 0 as x.",
        fix="Divide by a non-zero constant, or put a divisor known only at run time in a register.",
        lesson="alu",
    ),
    Entry(
        key="invalid-shift",
        pattern=re.compile(r"invalid shift (?P<amount>-?\d+)"),
        title="A shift by too many bits",
        check="check_alu_op",
        meaning="A shift by a constant must be smaller than the operand's width: 0-63 for 64-bit registers, "
                "0-31 for 32-bit (w) registers. CPUs disagree on what larger shifts do, so they are refused.",
        fix="Shift by less than the width, or use the 64-bit form (r1 <<= 32) where w1 <<= 32 was written.",
        lesson="alu",
        detail="The shift amount is {amount}.",
    ),
    # --- stack --------------------------------------------------------------------------------------------
    Entry(
        key="stack-var-unbounded",
        pattern=re.compile(rf"invalid unbounded variable-offset {ACCESS} stack R(?P<reg>\d+)"),
        title="A stack access at an unbounded offset",
        check="check_stack_access_within_bounds",
        meaning="The pointer's offset into the stack is not a constant, and its bounds are so wide (2^29 or "
                "more, BPF_MAX_VAR_OFF) that the verifier cannot tell where the access lands.",
        fix="Bound the index before adding it to the stack pointer: mask it (r1 &= 15) or compare it with a "
            "constant, so that index plus access size stays inside the buffer.",
        lesson="stack",
    ),
    Entry(
        key="stack-var-out-of-bounds",
        pattern=re.compile(rf"invalid variable-offset {ACCESS} stack R(?P<reg>\d+) var_off=(?P<var_off>\(.*?\)) "
                           r"off=(?P<off>-?\d+) size=(?P<size>\d+)"),
        title="A stack access whose offset range leaves the frame",
        check="check_stack_access_within_bounds",
        meaning="The pointer's offset into the stack varies. The verifier takes its smallest and largest "
                "possible values and refuses the access when either end falls outside the 512-byte frame, "
                "fp-512 to fp-1.",
        fix="Bound the index more tightly (mask or compare it) so that every possible offset plus the access "
            "size stays inside the buffer.",
        lesson="stack",
    ),
    Entry(
        key="stack-out-of-bounds",
        pattern=re.compile(rf"invalid {ACCESS} stack R(?P<reg>\d+) off=(?P<off>-?\d+) size=(?P<size>\d+)"),
        title="A stack access outside the frame",
        check="check_stack_access_within_bounds",
        meaning="Each function has 512 bytes of stack below its frame pointer, fp-512 to fp-1. A load, store "
                "or helper buffer that reaches below fp-512, or fp+0 and above, is refused. (Without "
                "privileges, reads must also stay within the part of the stack the function has written.)",
        fix="Keep offsets from R10 negative and at least the access size away from 0: an 8-byte slot is at "
            "r10 - 8, not r10 + 0. For a helper's buffer, start + length must not pass fp.",
        example="*(u64 *)(r10 - 8) = r1    /* bytes fp-8 .. fp-1 */",
        lesson="stack",
        detail="The access is {size} byte(s) at offset {off} from the frame pointer; the frame is fp-512 to fp-1.",
    ),
    Entry(
        key="stack-misaligned",
        pattern=re.compile(r"misaligned stack access off .+ size (?P<size>\d+)"),
        title="A misaligned stack access",
        check="check_ptr_alignment",
        meaning="Stack accesses must be aligned to their size (a 4-byte access at a multiple of 4, an 8-byte "
                "one at a multiple of 8), on every CPU: the verifier tracks saved registers in 8-byte slots and "
                "relies on it.",
        fix="Align the offset: 8-byte values at fp-8, fp-16, ...; 4-byte values at multiples of 4.",
        lesson="stack",
    ),
    Entry(
        key="atomic-misaligned",
        pattern=re.compile(r"misaligned (?P<what>value |key |context |sock |)access off .+ size (?P<size>\d+)"),
        title="A misaligned atomic operation",
        check="check_ptr_alignment",
        meaning="An atomic instruction (lock ... +=, fetch, xchg, cmpxchg) must touch an address that is a multiple "
                "of its size, wherever it points: CPUs cannot do a locked operation across that boundary, so "
                "check_atomic_rmw asks for strict alignment even where plain loads and stores may be unaligned. "
                "A variable offset counts too: every value it may take must keep the address aligned.",
        fix="Put the counter at an offset that is a multiple of its size, and scale a variable index by the "
            "element's size (<<= 3 for u64) so that no possible value lands between two elements.",
        example="r1 = 1\nlock *(u64 *)(r0 + 8) += r1   # offset 8: a multiple of 8",
        lesson="map-values",
        detail="The access is {size} bytes wide, so its address must be a multiple of {size}.",
    ),
    Entry(
        key="stack-fill-size",
        pattern=re.compile(r"invalid size of register fill"),
        title="Reading part of a saved pointer",
        check="check_stack_read_fixed_off",
        meaning="A pointer stored (spilled) to the stack can only be read back whole, with an 8-byte load of "
                "the same slot: part of an address is not a pointer the verifier can track.",
        fix="Load the slot with *(u64 *)(r10 - N) to get the pointer back.",
        lesson="stack",
    ),
    Entry(
        key="stack-spill-size",
        pattern=re.compile(r"invalid size of register spill"),
        title="Saving part of a pointer",
        check="check_stack_write_fixed_off",
        meaning="A pointer can be stored (spilled) to the stack only whole, with an 8-byte store: the verifier "
                "tracks a saved pointer per 8-byte slot, and half an address would be a number it could no "
                "longer check.",
        fix="Store the register with *(u64 *)(r10 - N) = rX. To keep a number derived from the pointer, turn it "
            "into a scalar first (an ALU operation on it) if your program really needs the bits.",
        lesson="stack",
    ),
    Entry(
        key="stack-corrupt-spill",
        pattern=re.compile(r"attempt to corrupt spilled pointer on stack"),
        title="Overwriting part of a saved pointer",
        check="check_stack_write_fixed_off",
        meaning="Without privileges, a store of fewer than 8 bytes into a stack slot that holds a saved pointer "
                "is refused: it would let the program build a pointer out of pieces.",
        fix="Overwrite the whole 8-byte slot, or keep the other data in a different slot.",
        lesson="stack",
    ),
    Entry(
        key="stack-of-returned-function",
        pattern=re.compile(r"R(?P<reg>\d+) points to the stack of a function that has returned"),
        title="A pointer into a finished function's stack",
        check="",
        meaning="The pointer refers to the stack frame of a subprogram that has already returned, so the "
                "memory no longer belongs to anyone. This message is the playground's; the kernel stops the "
                "usual way this happens earlier (cannot return stack pointer to the caller).",
        fix="Let the caller own the buffer and pass the callee a pointer to it.",
        lesson="calls",
    ),
    Entry(
        key="stack-uninit-load",
        pattern=re.compile(r"invalid read from stack off (?P<off>-?\d+)\+(?P<byte>\d+) size (?P<size>\d+)"),
        title="Loading stack bytes never written, without privileges",
        check="check_stack_read_fixed_off",
        meaning="Root may read stack bytes it never wrote (they hold whatever an earlier program left). An "
                "unprivileged program may not: every byte a load reads must have been written on this path, "
                "so that no kernel data leaks through the stack. The message gives the access's offset and the "
                "first bad byte counted from it.",
        fix="Store into the slot before reading it on every path (zero it at the start of the program).",
        example="r1 = 0\n*(u64 *)(r10 - 8) = r1\nr0 = *(u64 *)(r10 - 8)",
        lesson="stack",
        detail="Byte {byte} of the {size}-byte load at fp{off} was never written.",
    ),
    Entry(
        key="stack-uninit-read",
        pattern=re.compile(r"invalid read from stack R(?P<reg>\d+) (?:off (?P<off>-?\d+)|var_off (?P<var_off>\(.*?\)))"
                           r"\+(?P<byte>\d+) size (?P<size>\d+)"),
        title="A helper reading stack bytes that hold nothing it may read",
        check="check_stack_range_initialized",
        meaning="A helper's memory argument (a map key, a buffer to read) and a load at a variable offset may "
                "only read stack bytes the program has written. Without privileges, bytes never written and "
                "bytes holding a saved pointer are refused: the helper would copy kernel data or an address "
                "somewhere the program can read it. The message counts the bad byte from the start of the "
                "range.",
        fix="Initialise the whole buffer before the call (store zero into each slot), and keep pointers out of "
            "memory passed to helpers.",
        example="r1 = 0\n*(u64 *)(r10 - 8) = r1    /* the key is initialised */",
        lesson="stack",
        detail="Byte {byte} of the {size}-byte range is the first that may not be read.",
    ),
    Entry(
        key="stack-var-no-register",
        pattern=re.compile(r"variable offset stack pointer cannot be passed into helper function; "
                           r"var_off=(?P<var_off>\(.*?\)) off=(?P<off>-?\d+) size=(?P<size>\d+)"),
        title="A read at a variable stack offset that goes into no register",
        check="check_stack_read",
        meaning="A variable-offset stack read is allowed only when the value goes into a register, which then "
                "becomes an unknown number. An atomic instruction (lock *(u64 *)(r1 + 0) += r2) reads the old "
                "value into no register, so the kernel refuses it through a variable-offset stack pointer, with "
                "wording from the time when helpers were the only such readers.",
        fix="Give the atomic operation a constant stack offset (choose the slot with branches), or keep the "
            "counters in a map value.",
        lesson="stack",
    ),
    # --- context ------------------------------------------------------------------------------------------
    Entry(
        key="ctx-invalid-access",
        pattern=re.compile(r"invalid bpf_context access off=(?P<off>-?\d+) size=(?P<size>\d+)"),
        title="A context field that cannot be accessed this way",
        check="check_ctx_access",
        meaning="The context in R1 is a different struct for each program type, and the kernel rewrites each "
                "access to it into an access to its own data. The program type's is_valid_access callback "
                "decides, per offset and size, what may be read and what written; offsets that are no field, "
                "read-only fields and wrong sizes are refused.",
        fix="Look up the field in the hook's context struct (struct xdp_md, struct __sk_buff, ...) and use its "
            "offset and size; check whether the hook lets you write it.",
        example="r2 = *(u32 *)(r1 + 0)    /* xdp_md->data */\nr3 = *(u32 *)(r1 + 4)    /* xdp_md->data_end */",
        lesson="ctx-access",
        detail="{size} byte(s) at offset {off} of the context is not a field this program type allows here.",
    ),
    Entry(
        key="ctx-negative-offset",
        pattern=re.compile(r"negative offset ctx ptr R(?P<reg>\d+) off=(?P<off>-?\d+) disallowed"),
        title="A context pointer moved backwards",
        check="check_ptr_off_reg",
        meaning="The context pointer was moved below the start of the context (r1 += -8) and then dereferenced "
                "or passed to a helper. Context accesses are rewritten field by field from the context "
                "itself, so the pointer must stay unmoved.",
        fix="Keep R1 (or a copy) unmoved and put the field's offset in the load instead.",
        lesson="ctx-access",
        detail="R{reg} was moved by {off} bytes from the start of the context.",
    ),
    Entry(
        key="ctx-modified",
        pattern=re.compile(r"dereference of modified ctx ptr R(?P<reg>\d+) off=(?P<off>-?\d+) disallowed"),
        title="A moved context pointer",
        check="check_ptr_off_reg",
        meaning="Context accesses are rewritten by offset, so the verifier must know exactly which field each "
                "one touches. It refuses a context pointer that was moved (r1 += 8) and then dereferenced or "
                "passed to a helper.",
        fix="Keep R1 (or a copy) unmoved and put the field's offset in the load instead.",
        example="r2 = *(u32 *)(r1 + 8)    /* not: r1 += 8; r2 = *(u32 *)(r1 + 0) */",
        lesson="ctx-access",
    ),
    Entry(
        key="ctx-variable-offset",
        pattern=re.compile(r"variable ctx access var_off=(?P<var_off>.+) disallowed"),
        title="A context access at a variable offset",
        check="check_ptr_off_reg",
        meaning="A number the verifier does not know exactly was added to the context pointer. Context "
                "accesses are rewritten field by field, so the field must be known.",
        fix="Read each field with a constant offset and choose between them with branches.",
        lesson="ctx-access",
    ),
    Entry(
        key="leaks-addr",
        pattern=re.compile(r"R(?P<reg>\d+) leaks addr into (?P<where>ctx|map|mem)"),
        title="Storing a pointer where it could leak",
        check="check_mem_access",
        meaning="Without privileges a program may not store a pointer into the context, a map value or (with "
                "an atomic operation, checked by check_atomic) other memory: user space could read it back "
                "and learn kernel addresses.",
        fix="Store numbers there, not pointers; load as root (or with CAP_BPF and CAP_PERFMON) when the "
            "program really needs to.",
        lesson="ctx-access",
    ),
    # --- packets ------------------------------------------------------------------------------------------
    Entry(
        key="packet-out-of-range",
        pattern=re.compile(r"invalid access to packet, off=(?P<off>-?\d+) size=(?P<size>\d+), "
                           r"R(?P<reg>\d+)\(id=(?P<id>\d+),off=-?\d+,r=(?P<r>\d+)\)"),
        title="Packet access beyond the checked bounds",
        check="check_packet_access",
        meaning="A program may read or write packet bytes directly only within a range it has proven to be "
                "inside the packet. The verifier learns the range from comparisons of a packet pointer with "
                "data_end and keeps it on each pointer as r=N; __check_packet_access refuses an access that "
                "starts before the packet start or ends past r. Moving a pointer by a variable amount starts "
                "it again at r=0.",
        fix="Compare data + (offset + size) with data_end before the access and make it only on the branch "
            "where the packet is long enough. After adding a variable amount to the pointer, compare again.",
        example="r2 = *(u32 *)(r1 + 0)    /* data */\nr3 = *(u32 *)(r1 + 4)    /* data_end */\nr4 = r2\n"
                "r4 += 14\nif r4 > r3 goto drop     /* shorter than 14 bytes */\n"
                "r5 = *(u8 *)(r2 + 13)    /* fine: 13 + 1 <= 14 */",
        lesson="packet-bounds",
        detail="R{reg} touches {size} byte(s) at offset {off}, but the range proven on this path is r={r}.",
    ),
    Entry(
        key="packet-read-only",
        pattern=re.compile(r"cannot write into packet"),
        title="Writing a packet in a hook that may only read it",
        check="check_mem_access",
        meaning="Only some program types may change packet bytes directly (XDP, TC, lwt_xmit, sk_skb, ...); "
                "others, such as cgroup_skb, may only read them (may_access_direct_pkt_data).",
        fix="Rewrite packets in a hook that allows it, such as XDP or TC.",
        lesson="packet-bounds",
    ),
    Entry(
        key="ld-abs-program-type",
        pattern=re.compile(r"BPF_LD_\[ABS\|IND\] instructions not allowed for this program type"),
        title="Legacy packet loads in a hook without an skb",
        check="check_ld_abs",
        meaning="ld_abs and ld_ind, inherited from classic BPF, read from an sk_buff. Only socket filters and "
                "TC programs (sched_cls, sched_act) may use them (may_access_skb).",
        fix="Use direct packet access (data and data_end) or a helper such as bpf_skb_load_bytes.",
        lesson="packet-bounds",
    ),
    Entry(
        key="ld-abs-r6",
        pattern=re.compile(r"at the time of BPF_LD_ABS\|IND R6 != pointer to skb"),
        title="ld_abs without the context in R6",
        check="check_ld_abs",
        meaning="ld_abs and ld_ind take the sk_buff from R6 implicitly, so R6 must hold the unmodified context "
                "pointer when they run.",
        fix="Copy the context into R6 first (r6 = r1) and keep it there.",
        lesson="packet-bounds",
    ),
    # --- maps: NULL checks and values ---------------------------------------------------------------------
    Entry(
        key="null-deref",
        pattern=re.compile(r"R(?P<reg>\d+) invalid mem access '(?P<type>\w+_or_null)'"),
        title="Using a pointer that may be NULL",
        check="check_mem_access",
        meaning="The pointer may be NULL (its type ends in _or_null): bpf_map_lookup_elem returns NULL when the "
                "key is absent, bpf_ringbuf_reserve when the buffer is full, a socket lookup when nothing "
                "matches. Loads and stores through it are refused until a comparison with 0 has ruled NULL "
                "out on this path.",
        fix="Compare the pointer with 0 right after the call and use it only on the branch where it is not "
            "NULL.",
        example="call bpf_map_lookup_elem\nif r0 == 0 goto out\nr1 = *(u64 *)(r0 + 0)",
        lesson="maps-null-check",
        detail="R{reg} is {type} here: NULL has not been ruled out on this path.",
    ),
    Entry(
        key="ptr-arith-null",
        pattern=re.compile(r"R(?P<reg>\d+) pointer arithmetic on (?P<type>\w+_or_null) prohibited, "
                           r"null-check it first"),
        title="Moving a pointer that may be NULL",
        check="adjust_ptr_min_max_vals",
        meaning="The pointer may be NULL, and an offset added to NULL would turn it into a pointer the verifier "
                "could no longer recognise as NULL. Arithmetic on it is refused until a comparison with 0.",
        fix="Null-check first, then move the pointer on the non-NULL branch.",
        example="call bpf_map_lookup_elem\nif r0 == 0 goto out\nr0 += 4",
        lesson="maps-null-check",
    ),
    Entry(
        key="helper-arg-null",
        pattern=re.compile(r"R(?P<reg>\d+) type=(?P<type>\w+_or_null) expected=(?P<expected>.+)"),
        title="Passing a pointer that may be NULL to a helper",
        check="check_reg_type",
        meaning="The helper's prototype requires a valid pointer for this argument, and the register may still "
                "be NULL on this path.",
        fix="Null-check the pointer before the call and make the call only on the non-NULL branch.",
        lesson="maps-null-check",
        detail="R{reg} is {type}; the helper takes {expected}.",
    ),
    Entry(
        key="map-value-out-of-range",
        pattern=re.compile(r"invalid access to map value, value_size=(?P<value_size>\d+) off=(?P<off>-?\d+) "
                           r"size=(?P<size>\d+)"),
        title="Access outside a map value",
        check="check_map_access",
        meaning="A map value is value_size bytes, and every load and store through a value pointer must stay "
                "inside it. The verifier checks the lowest and the highest offset the access can reach, "
                "including the pointer's variable part (check_mem_region_access).",
        fix="Stay within the value's layout. For a computed index, bound it so that index + access size <= "
            "value_size, by masking or comparing it before adding it to the pointer.",
        example="if r1 > 7 goto out    /* index 0..7 into a u8[8] value */\nr0 += r1\nr2 = *(u8 *)(r0 + 0)",
        lesson="map-values",
        detail="The value has {value_size} byte(s); this access is {size} byte(s) at offset {off}.",
    ),
    Entry(
        key="mem-out-of-range",
        pattern=re.compile(r"invalid access to memory, mem_size=(?P<mem_size>\d+) off=(?P<off>-?\d+) "
                           r"size=(?P<size>\d+)"),
        title="Access outside memory a helper returned",
        check="check_mem_region_access",
        meaning="Memory a helper hands out (a ring buffer record from bpf_ringbuf_reserve, for example) has the "
                "size the call asked for, and accesses through the pointer must stay inside it.",
        fix="Reserve enough bytes for what you write, and keep computed offsets below the size.",
        lesson="map-values",
        detail="The memory has {mem_size} byte(s); this access is {size} byte(s) at offset {off}.",
    ),
    Entry(
        key="index-may-be-negative",
        pattern=re.compile(r"R(?P<reg>\d+) min value is negative, either use unsigned index or do a if "
                           r"\(index >=0\) check\."),
        title="An index that may be negative",
        check="check_mem_region_access",
        meaning="The pointer was moved by a number whose smallest possible value is negative, so the access "
                "could land before the start of the object.",
        fix="Compare the index unsigned (if r1 > 7 goto out also excludes negative values) or mask it before "
            "adding it to the pointer.",
        lesson="map-values",
    ),
    Entry(
        key="index-unbounded",
        pattern=re.compile(r"R(?P<reg>\d+) unbounded memory access, make sure to bounds check any such access"),
        title="An index with no upper bound",
        check="check_mem_region_access",
        meaning="The pointer was moved by a number whose largest possible value is too big to check (2^29 or "
                "more, BPF_MAX_VAR_OFF), so the verifier cannot tell where the access lands.",
        fix="Bound the index from above before using it: if r1 > 63 goto out, or r1 &= 63.",
        lesson="map-values",
    ),
    Entry(
        key="map-value-pointer-offset",
        pattern=re.compile(r"invalid access to map value pointer, value_size=(?P<value_size>\d+) "
                           r"off=(?P<off>\d+)"),
        title="An address past the end of a map value",
        check="resolve_pseudo_ldimm64",
        meaning="map_value(N, OFF) (BPF_PSEUDO_MAP_VALUE, how global variables are compiled) loads the address "
                "of byte OFF of an array map's value; OFF must be inside the value.",
        fix="Use an offset below value_size, or make the value larger.",
        lesson="map-values",
    ),
    Entry(
        key="map-struct-read-only",
        pattern=re.compile(r"only read from (?P<type>\w+) is supported"),
        title="Writing the kernel's map structure",
        check="check_ptr_to_map_access",
        meaning="With BTF, privileged programs may read fields of the kernel's own map structure (struct "
                "bpf_map and types built on it, such as bpf_htab) through a map pointer; writes are refused.",
        fix="Keep your data in the map's values, reached through bpf_map_lookup_elem.",
        lesson="map-values",
    ),
    Entry(
        key="map-struct-unprivileged",
        pattern=re.compile(r"'struct (?P<type>\w+)' access is allowed only to CAP_PERFMON and CAP_SYS_ADMIN"),
        title="Reading the kernel's map structure without privileges",
        check="check_ptr_to_map_access",
        meaning="Reading the kernel's struct behind a map (struct bpf_map and the type built on it) through the "
                "map pointer shows kernel memory, so only privileged loaders (CAP_PERFMON, CAP_SYS_ADMIN) may.",
        fix="Keep the sizes you need in your own constants or in a map value.",
        lesson="map-values",
    ),
    Entry(
        key="map-struct-negative",
        pattern=re.compile(r"R(?P<reg>\d+) is (?P<type>\w+) invalid negative access: off=(?P<off>-?\d+)"),
        title="Reading before the kernel's map structure",
        check="check_ptr_to_map_access",
        meaning="Through a map pointer a privileged program may read fields of the map's kernel struct, at "
                "offsets from 0 up; a negative offset lies before it.",
        fix="Use the field's offset in struct bpf_map (max_entries is at 76 on Linux 6.18 x86-64).",
        lesson="map-values",
    ),
    Entry(
        key="btf-no-field",
        pattern=re.compile(r"struct (?P<type>\S*) doesn't have field at offset (?P<off>\d+)"),
        title="No field at this offset of a kernel struct",
        check="btf_struct_walk",
        meaning="Reads of kernel structs (here through a map pointer) are checked against the struct's BTF "
                "layout: the offset falls in padding between members, or splits a bitfield.",
        fix="Read at the offset of a member: pahole or bpftool btf dump show the layout.",
        lesson="map-values",
        detail="Offset {off} of struct {type} is not the start or inside of a member.",
    ),
    Entry(
        key="btf-partial-pointer",
        pattern=re.compile(r"cannot access ptr member (?P<member>\S+) with moff (?P<moff>\d+) in struct "
                           r"(?P<type>\S*) with off (?P<off>\d+) size (?P<size>\d+)"),
        title="Part of a pointer in a kernel struct",
        check="btf_struct_walk",
        meaning="A pointer member of a kernel struct may only be read whole (8 bytes at its own offset); the "
                "result is then a pointer the verifier can follow.",
        fix="Read the member with an 8-byte load at its offset.",
        example="r2 = *(u64 *)(r1 + 40)    /* map->ops */",
        lesson="map-values",
        detail="{member} is at offset {moff}; the read was {size} byte(s) at {off}.",
    ),
    Entry(
        key="btf-beyond-member",
        pattern=re.compile(r"access beyond the end of member (?P<member>\S+) \(mend:(?P<mend>\d+)\) in struct "
                           r"(?P<type>\S*) with off (?P<off>\d+) size (?P<size>\d+)"),
        title="A read running past a member of a kernel struct",
        check="btf_struct_walk",
        meaning="A read of an integer member of a kernel struct must stay inside that member (or inside the "
                "whole array it belongs to); it may not spill into the next member.",
        fix="Read each member separately, with a load no wider than the member.",
        example="r0 = *(u32 *)(r1 + 76)    /* map->max_entries, 4 bytes */",
        lesson="map-values",
        detail="{member} ends at offset {mend}; the read was {size} byte(s) at {off}.",
    ),
    Entry(
        key="btf-beyond-struct",
        pattern=re.compile(r"access beyond struct (?P<type>\S*) at off (?P<off>\d+) size (?P<size>\d+)"),
        title="A read past the end of a kernel struct",
        check="btf_struct_walk",
        meaning="Reads of kernel structs (here through a map pointer) are checked against the struct's BTF "
                "layout, and this one ends before the read does.",
        fix="Read a member inside the struct: pahole or bpftool btf dump show the layout.",
        lesson="map-values",
    ),
    Entry(
        key="kernel-pointer-not-modelled",
        pattern=re.compile(r"R(?P<reg>\d+) points to a kernel struct \(ptr_(?P<type>\w+)\): accesses through "
                           r"it are not modelled yet"),
        title="Following a kernel pointer (not modelled here)",
        check="",
        meaning="A pointer read from the map's kernel struct points to another kernel struct. The kernel checks "
                "reads through it against that struct's BTF; this playground knows only the map structs, so "
                "it stops here. The kernel may well accept the program.",
        fix="Check such programs against the real kernel.",
        lesson="map-values",
    ),
    Entry(
        key="rdonly-mem-write",
        pattern=re.compile(r"R(?P<reg>\d+) cannot write into (?P<type>\w+)"),
        title="Writing read-only memory",
        check="check_mem_access",
        meaning="The pointer leads to memory the program may only read, such as rdonly_untrusted_mem: kernel "
                "memory reached through a pointer read from a kernel struct.",
        fix="Only read through it; keep what you want to write in the stack or a map value.",
        lesson="map-values",
    ),
    Entry(
        key="atomic-target",
        pattern=re.compile(r"BPF_ATOMIC stores into R(?P<reg>\d+) (?P<type>\S+) is not allowed"),
        title="An atomic operation on memory that does not allow it",
        check="check_atomic",
        meaning="Atomic read-modify-write instructions (lock ... +=, xchg, cmpxchg) are refused on the "
                "context, packet data, flow keys and sockets. They are meant for map values (counters shared "
                "between CPUs) and the stack.",
        fix="Do the atomic operation on a map value: look it up, null-check it, then lock *(u64 *)(r0 + 0) "
            "+= r1.",
        lesson="map-values",
    ),
    # --- pointer arithmetic -------------------------------------------------------------------------------
    Entry(
        key="ptr-arith-type",
        pattern=re.compile(r"R(?P<reg>\d+) pointer arithmetic on (?P<type>\w+) prohibited"),
        title="Moving a pointer that must not move",
        check="adjust_ptr_min_max_vals",
        meaning="Only pointers into memory the program may index can be moved. A map pointer (the map itself, "
                "not a value), pkt_end and socket pointers are handles to pass on unchanged, and are refused.",
        fix="Move a pointer that may move: for the packet, move data, never data_end; for a map, look up a "
            "value and move the value pointer.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-arith-32",
        pattern=re.compile(r"R(?P<reg>\d+) 32-bit pointer arithmetic prohibited"),
        title="32-bit arithmetic on a pointer",
        check="adjust_ptr_min_max_vals",
        meaning="A 32-bit ALU operation (on w registers) would cut an address to its lower half, so pointer "
                "arithmetic must use 64-bit instructions.",
        fix="Use r registers: r1 += r2, not w1 += w2.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-op-ptr",
        pattern=re.compile(r"R(?P<reg>\d+) pointer (?P<op>\S+) pointer prohibited"),
        title="An operation between two pointers",
        check="adjust_reg_min_max_vals",
        meaning="Combining two pointers gives no pointer. The only operation allowed on two pointers is "
                "subtraction, and only for privileged programs (the result is a plain number).",
        fix="Subtract the two pointers to get a distance, or add a number (not a pointer) to move a pointer.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-bitwise",
        pattern=re.compile(r"R(?P<reg>\d+) bitwise operator (?P<op>\S+) on pointer prohibited"),
        title="Masking a pointer",
        check="adjust_ptr_min_max_vals",
        meaning="The verifier follows a pointer only through adding and subtracting numbers; setting or "
                "clearing bits of an address (&=, |=, ^=) is refused.",
        fix="Mask the offset, then add it to the pointer.",
        example="r3 &= 0xff     /* bound the index */\nr2 += r3       /* then move the pointer */",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-operator",
        pattern=re.compile(r"R(?P<reg>\d+) pointer arithmetic with (?P<op>\S+) operator prohibited"),
        title="An operator that does not apply to pointers",
        check="adjust_ptr_min_max_vals",
        meaning="A pointer can only be moved by adding or subtracting a number; multiplying, dividing or "
                "shifting an address is refused.",
        fix="Do the arithmetic on the offset, then add the result to the pointer.",
        example="r3 <<= 2       /* index * 4 */\nr2 += r3",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-sub-from-scalar",
        pattern=re.compile(r"R(?P<reg>\d+) tried to subtract pointer from scalar"),
        title="A number minus a pointer",
        check="adjust_ptr_min_max_vals",
        meaning="number - pointer gives no pointer the verifier could follow, so it is refused; pointer - "
                "number is fine.",
        fix="Swap the operands, or subtract two pointers to get a distance.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-alu-unsupported-unprivileged",
        pattern=re.compile(r"R(?P<reg>\d+) has pointer with unsupported alu operation, pointer arithmetic with "
                           r"it prohibited for !root"),
        title="Moving a pointer by a register, without privileges",
        check="sanitize_ptr_alu",
        meaning="For unprivileged programs the verifier masks pointer arithmetic against speculative "
                "execution, which needs a known limit for the pointer's type; a context pointer has none, so "
                "moving it by a register is refused.",
        fix="Keep the context pointer unmoved and read fields at constant offsets.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-sub-from-stack",
        pattern=re.compile(r"R(?P<reg>\d+) subtraction from stack pointer prohibited"),
        title="Subtracting from a stack pointer",
        check="adjust_ptr_min_max_vals",
        meaning="Nothing may be subtracted from a pointer into the stack, not even a constant (some JITs could "
                "not do it). Moving down the stack is done by adding a negative number.",
        fix="Add the negated value instead: r1 += -8 rather than r1 -= 8.",
        example="r1 = r10\nr1 += -8",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-stack-var-unprivileged",
        pattern=re.compile(r"R(?P<reg>\d+) variable stack access prohibited for !root, var_off=(?P<var_off>\(.*?\)) "
                           r"off=(?P<off>-?\d+)"),
        title="A stack pointer with a variable offset, without privileges",
        check="check_stack_access_for_ptr_arithmetic",
        meaning="Without privileges (CAP_PERFMON), a stack pointer must keep a constant offset: the kernel "
                "masks pointer arithmetic against speculative execution (Spectre v1), which it can only do for "
                "a known offset. So adding a number that is not a constant to a stack pointer is refused.",
        fix="Pick the slot with branches and constant offsets, or keep the array in a map value, where a "
            "bounded variable index is allowed.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-stack-out-of-range-unprivileged",
        pattern=re.compile(r"R(?P<reg>\d+) stack pointer arithmetic goes out of range, prohibited for !root; "
                           r"off=(?P<off>-?\d+)"),
        title="A stack pointer moved outside the frame, without privileges",
        check="check_stack_access_for_ptr_arithmetic",
        meaning="Without privileges, every stack pointer the program computes must point inside the frame, "
                "fp-512 to fp-1, even before it is used (R10 itself, at fp+0, is the only exception), so that "
                "speculative accesses through it stay inside too.",
        fix="Compute the pointer to the start of the buffer directly (r1 = r10; r1 += -16) rather than passing "
            "through offsets outside the frame.",
        lesson="pointer-arithmetic",
        detail="The pointer would be at offset {off} from the frame pointer.",
    ),
    Entry(
        key="ptr-mixed-signed-bounds",
        pattern=re.compile(r"R(?P<reg>\d+) has unknown scalar with mixed signed bounds, pointer arithmetic with it "
                           r"prohibited for !root"),
        title="Adding a number that may be negative or positive to a pointer, without privileges",
        check="sanitize_ptr_alu",
        meaning="Without privileges, pointer arithmetic is masked against speculative execution, which needs to "
                "know which way the pointer moves. A number whose range includes both negative and positive "
                "values does not say, so it is refused.",
        fix="Bound the number on one side of zero first: compare it unsigned, or mask it (r1 &= 15).",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-alu-beyond-bounds-unprivileged",
        pattern=re.compile(r"R(?P<reg>\d+) tried to (?:add|sub) beyond pointer bounds, pointer arithmetic with it "
                           r"prohibited for !root"),
        title="A pointer already outside its object, moved again without privileges",
        check="sanitize_ptr_alu",
        meaning="Without privileges the kernel masks pointer arithmetic by a register so that even a mispredicted "
                "offset stays inside the object. The mask is the distance left to the object's end, so a pointer "
                "already at or past the end (or the start, moving left) has no room to mask.",
        fix="Move the pointer by the whole offset in one step from the start of the object, and check the "
            "offset's range before adding it.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-alu-paths-unprivileged",
        pattern=re.compile(r"R(?P<reg>\d+) tried to (?:add|sub) from different maps, paths or scalars, pointer "
                           r"arithmetic with it prohibited for !root"),
        title="One pointer addition that would need two different masks",
        check="sanitize_ptr_alu",
        meaning="The kernel rewrites a pointer addition by a register into a masked form with one limit per "
                "instruction. When two paths reach the instruction with pointers that may move by different "
                "distances (other maps, other offsets, other ranges of the number), no single limit fits both.",
        fix="Do the addition on each path separately, or bring the paths to the same pointer and the same range "
            "of offsets before the shared addition.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="map-value-ptr-out-of-range-unprivileged",
        pattern=re.compile(r"R(?P<reg>\d+) pointer arithmetic of map value goes out of range, prohibited for !root"),
        title="A map value pointer moved outside the value, without privileges",
        check="sanitize_check_bounds",
        meaning="Without privileges a map value pointer must point inside the value after every move, not only "
                "when it is used, so that speculative accesses through it stay inside too.",
        fix="Compute the final offset first, check it against the value size, then add it once.",
        lesson="map-values",
    ),
    Entry(
        key="ptr-comparison-unprivileged",
        pattern=re.compile(r"R(?P<reg>\d+) pointer comparison prohibited"),
        title="Comparing a pointer, without privileges",
        check="check_cond_jmp_op",
        meaning="Without privileges, a comparison may not look at a pointer: its outcome would reveal something "
                "about a kernel address. The exceptions are a null check (== 0 or != 0) of a pointer that may be "
                "NULL, such as what bpf_map_lookup_elem returns, and comparisons of packet pointers.",
        fix="Compare the data the pointer leads to, or offsets kept in scalars, instead of the pointer itself.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="calls-unprivileged",
        pattern=re.compile(r"loading/calling other bpf or kernel functions are allowed for CAP_BPF and "
                           r"CAP_SYS_ADMIN"),
        title="Functions and callbacks, without privileges",
        check="add_subprog_and_kfunc",
        meaning="A program loaded without CAP_BPF must be a single function: no calls to other functions of the "
                "program, no kernel functions, and no function pointers (so no bpf_loop callbacks).",
        fix="Inline the function (in C: __always_inline), or load the program with CAP_BPF.",
        lesson="calls",
    ),
    Entry(
        key="ptr-alu-unprivileged",
        pattern=re.compile(r"R(?P<reg>\d+) pointer arithmetic prohibited"),
        title="Negating or byte-swapping a pointer",
        check="check_alu_op",
        meaning="Without privileges, neg and the byte-order instructions may not be applied to a pointer: the "
                "result would be a number derived from a kernel address.",
        fix="Apply them to numbers only.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-partial-copy",
        pattern=re.compile(r"R(?P<reg>\d+) partial copy of pointer"),
        title="A 32-bit copy of a pointer",
        check="check_alu_op",
        meaning="A 32-bit move (w1 = w2) keeps half of an address. Without privileges it is refused, since "
                "the half is a number that reveals the address; privileged programs get an unknown number.",
        fix="Copy pointers with a 64-bit move: r1 = r2.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-sign-extension",
        pattern=re.compile(r"R(?P<reg>\d+) sign-extension (?:part of pointer|mov of a pointer prohibited)"),
        title="Sign-extending a pointer",
        check="check_alu_op",
        meaning="A sign-extending move (r1 = (s8)r2, (s16), (s32)) keeps part of an address; without "
                "privileges it is refused because that part reveals the address.",
        fix="Sign-extend numbers only; copy pointers with r1 = r2.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-unbounded-min",
        pattern=re.compile(r"math between (?P<type>\w+) pointer and register with unbounded min value is not "
                           r"allowed"),
        title="Adding a number with no lower bound to a pointer",
        check="check_reg_sane_offset",
        meaning="The number added to the pointer could be any negative value as far as the verifier knows, so "
                "the pointer could end up anywhere. This is refused when the arithmetic happens, before any "
                "access.",
        fix="Bound the number first: mask it, load it with a narrow unsigned load (u8, u16, u32), or compare "
            "it unsigned and add it only on the branch where it is in range.",
        example="if r3 > 64 goto out    /* unsigned: now 0..64 */\nr2 += r3",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-huge-constant",
        pattern=re.compile(r"math between (?P<type>\w+) pointer and (?P<value>-?\d+) is not allowed"),
        title="Adding a huge constant to a pointer",
        check="check_reg_sane_offset",
        meaning="The constant is outside +/-2^29 (BPF_MAX_VAR_OFF). No object is that large, so the verifier "
                "refuses the arithmetic outright.",
        fix="Check the constant: such values usually come from a sign mistake (-2 stored in 32 bits is "
            "4294967294).",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-huge-offset",
        pattern=re.compile(r"(?P<type>\w+) pointer offset (?P<off>-?\d+) is not allowed"),
        title="A pointer offset that grew too large",
        check="check_reg_sane_offset",
        meaning="Adding the constants so far would put the pointer's offset outside +/-2^29 (BPF_MAX_VAR_OFF).",
        fix="Look for a loop or a chain of additions that keeps moving the pointer, and check each step.",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="ptr-value-out-of-bounds",
        pattern=re.compile(r"value (?P<value>-?\d+) makes (?P<type>\w+) pointer be out of bounds"),
        title="A number whose range is too wide for a pointer",
        check="check_reg_sane_offset",
        meaning="The smallest possible value of the number being added is outside +/-2^29 (BPF_MAX_VAR_OFF), "
                "so the result could point anywhere.",
        fix="Bound the number from both sides before adding it (mask it, or compare it unsigned).",
        lesson="pointer-arithmetic",
    ),
    Entry(
        key="invalid-mem-access",
        pattern=re.compile(r"R(?P<reg>\d+) invalid mem access '(?P<type>[^']+)'"),
        title="A pointer that cannot be dereferenced",
        check="check_mem_access",
        meaning="This kind of pointer cannot be read or written with a load or store: a map pointer is a "
                "handle for helpers, pkt_end only marks where the packet ends (for comparisons), a function "
                "pointer is for callbacks.",
        fix="For a map, look up a value with bpf_map_lookup_elem and access that; for the packet, access "
            "through data after comparing with data_end.",
        lesson="pointer-arithmetic",
    ),
    # --- helpers ------------------------------------------------------------------------------------------
    Entry(
        key="helper-unknown",
        pattern=re.compile(r"invalid func (?P<name>\S+)#(?P<id>-?\d+)"),
        title="A helper number that does not exist",
        check="check_helper_call",
        meaning="call N names helper number N, and this number is not one the kernel defines.",
        fix="Call helpers by name (call bpf_map_lookup_elem) so that the assembler fills in the number.",
        lesson="helpers-args",
    ),
    Entry(
        key="helper-not-modelled",
        pattern=re.compile(r"helper (?P<name>\w+)#(?P<id>\d+) is not modelled by this playground yet"),
        title="A helper the playground does not model",
        check="",
        meaning="The kernel has this helper, but the playground's helper table does not describe it yet: its "
                "prototype (what the verifier checks), the hooks that offer it and what it does in a run. "
                "Rather than guess, the playground stops here. The kernel may well accept the program.",
        fix="Use a helper the playground models (the helper list names them), or check the program with the "
            "running kernel where this server allows it.",
        lesson="helpers-args",
        detail="{name} (helper {id}) is a kernel helper the playground cannot check or run.",
    ),
    Entry(
        key="helper-program-type",
        pattern=re.compile(r"program of this type cannot use helper (?P<name>\w+)#(?P<id>\d+)"),
        title="A helper this hook does not offer",
        check="check_helper_call",
        meaning="Each program type offers its own set of helpers (its get_func_proto): XDP programs have no "
                "skb helpers, and the old bpf_probe_read (helper 4) is for tracing programs only.",
        fix="Use a helper the hook offers, or move the work to a hook that offers it. The helper list shows "
            "which program types may call each helper.",
        lesson="helpers-args",
        detail="{name} (helper {id}) is not available to this program type.",
    ),
    Entry(
        key="helper-arg-type",
        pattern=re.compile(r"R(?P<reg>\d+) type=(?P<type>\S+) expected=(?P<expected>.+)"),
        title="A helper argument of the wrong kind",
        check="check_reg_type",
        meaning="Each helper argument has a declared kind in the helper's prototype: a map, memory to read or "
                "write, the context, a size, a function. check_func_arg compares the register's type with the "
                "kinds the argument allows, listed after expected=.",
        fix="Pass the right thing: fp is a pointer into the stack (r2 = r10; r2 += -8), map_ptr a map (r1 = "
            "counts ll), ctx the context from R1. R1-R5 do not survive a call: set them again for each call.",
        lesson="helpers-args",
        detail="R{reg} holds {type}; this argument takes {expected}.",
    ),
    Entry(
        key="helper-size-negative",
        pattern=re.compile(r"R(?P<reg>\d+) min value is negative, either use unsigned or 'var &= const'"),
        title="A size argument that may be negative",
        check="check_mem_size_reg",
        meaning="The size passed to the helper could be negative on some path.",
        fix="Bound the size before the call: mask it (r3 &= 63) or compare it unsigned.",
        lesson="helpers-args",
    ),
    Entry(
        key="helper-size-zero",
        pattern=re.compile(r"R(?P<reg>\d+) invalid zero-sized read: u64=\[(?P<umin>-?\d+),(?P<umax>-?\d+)\]"),
        title="A size argument that may be 0",
        check="check_mem_size_reg",
        meaning="This helper needs a size of at least 1 (ARG_CONST_SIZE), and the smallest value the size "
                "register may hold is 0.",
        fix="Prove the size is not 0 (if r3 == 0 goto skip) or pass a constant.",
        lesson="helpers-args",
        detail="R{reg} ranges over [{umin}, {umax}] here, which includes 0.",
    ),
    Entry(
        key="helper-size-unbounded",
        pattern=re.compile(r"R(?P<reg>\d+) unbounded memory access, use 'var &= const' or 'if \(var < const\)'"),
        title="A size argument with no upper bound",
        check="check_mem_size_reg",
        meaning="The verifier checks the helper's buffer for the largest size it may be given, and this size "
                "has no usable upper bound.",
        fix="Bound the size from above (r3 &= 63, or if r3 > 64 goto out) and make the buffer that large.",
        lesson="helpers-args",
    ),
    Entry(
        key="zero-sized-read",
        pattern=re.compile(r"invalid zero-sized read"),
        title="A helper buffer of size 0",
        check="check_stack_range_initialized",
        meaning="A stack buffer was passed with size 0 where at least one byte is required. A map with no keys "
                "(a ring buffer, key_size 0) given to a helper that reads a key ends here.",
        fix="Pass a non-zero size, or use the helpers made for the map type (bpf_ringbuf_output, "
            "bpf_ringbuf_reserve for ring buffers).",
        lesson="helpers-args",
    ),
    Entry(
        key="helper-not-constant",
        pattern=re.compile(r"R(?P<reg>\d+) is not a known constant'"),
        title="An argument that must be a constant",
        check="check_func_arg",
        meaning="This argument must be a value the verifier knows exactly, such as the size given to "
                "bpf_ringbuf_reserve, which becomes the size of the memory returned. (The stray quote is in "
                "the kernel's message.)",
        fix="Pass a constant (r2 = 16); reserve a fixed-size record and fill only part of it if needed.",
        lesson="helpers-args",
    ),
    Entry(
        key="helper-map-type",
        pattern=re.compile(r"cannot pass map_type (?P<map_type>\d+) into func (?P<name>\w+)#(?P<id>\d+)"),
        title="A map of the wrong type for this helper",
        check="check_map_func_compatibility",
        meaning="Some helpers work only with some map types, and some map types only with some helpers: "
                "bpf_ringbuf_* need a ring buffer, push, pop and peek a queue, stack or bloom filter. The "
                "number is the kernel's enum bpf_map_type (1 hash, 2 array, 3 prog_array, 27 ringbuf).",
        fix="Pass a map of the type the helper works on, or call the helper meant for this map "
            "(bpf_map_lookup_elem and bpf_map_update_elem for hashes and arrays).",
        lesson="helpers-args",
    ),
    Entry(
        key="tail-call-map",
        pattern=re.compile(r"expected prog array map for tail call"),
        title="bpf_tail_call without a prog_array",
        check="record_func_key",
        meaning="bpf_tail_call jumps to a program stored in a BPF_MAP_TYPE_PROG_ARRAY map; its second argument "
                "must be such a map.",
        fix="Declare a prog_array and pass it in R2.",
        example=".map progs type=prog_array key_size=4 value_size=4 max_entries=4",
        lesson="tail-calls",
    ),
    # --- references ---------------------------------------------------------------------------------------
    Entry(
        key="release-offset",
        pattern=re.compile(r"R(?P<reg>\d+) must have zero offset when passed to release func or trusted arg "
                           r"to kfunc"),
        title="Releasing a moved pointer",
        check="check_func_arg_reg_off",
        meaning="A helper that gives an object back (bpf_ringbuf_submit, bpf_ringbuf_discard, ...) must get the "
                "pointer exactly as it was handed out, not one moved into the object.",
        fix="Keep the pointer from bpf_ringbuf_reserve in a register you never move (say r6), write through "
            "copies, and pass r6 to submit or discard.",
        lesson="references",
    ),
    Entry(
        key="unreleased-reference",
        pattern=re.compile(r"Unreleased reference id=(?P<id>\d+) alloc_insn=(?P<insn>\d+)"),
        title="An acquired object not given back",
        check="check_reference_leak",
        meaning="Some helpers hand out an object the program must give back before it ends: a ring buffer "
                "record from bpf_ringbuf_reserve is submitted or discarded, a socket from bpf_sk_lookup_* is "
                "released with bpf_sk_release. A path that reaches exit still holding one is refused.",
        fix="On every path after a successful reserve or lookup, error paths included, call the matching "
            "release helper before exit.",
        example="call bpf_ringbuf_reserve\nif r0 == 0 goto out\nr6 = r0\n/* ... fill the record ... */\n"
                "r1 = r6\nr2 = 0\ncall bpf_ringbuf_submit",
        lesson="references",
        detail="The object acquired at instruction {insn} is still held at exit.",
    ),
    # --- calls --------------------------------------------------------------------------------------------
    Entry(
        key="call-invalid-destination",
        pattern=re.compile(r"call to invalid destination"),
        title="A call outside the program",
        check="add_subprog",
        meaning="A bpf-to-bpf call (call pc+N) must target an instruction inside the program.",
        fix="Fix the call offset (counted from the next instruction), or call a label.",
        lesson="calls",
    ),
    Entry(
        key="call-stack-too-deep",
        pattern=re.compile(r"the call stack of (?P<frames>\d+) frames is too deep"),
        title="Calls nested too deeply",
        check="check_func_call",
        meaning="bpf-to-bpf calls may nest at most 8 frames deep (MAX_CALL_FRAMES), the main program "
                "included. Recursion always ends here, since the verifier follows every call.",
        fix="Flatten the call chain: inline small functions (static __always_inline in C), and replace "
            "recursion with a bounded loop.",
        lesson="calls",
        detail="This call would make {frames} frames; the limit is 8.",
    ),
    Entry(
        key="return-stack-pointer",
        pattern=re.compile(r"cannot return stack pointer to the caller"),
        title="Returning a stack pointer from a function",
        check="prepare_func_exit",
        meaning="A function's stack frame is gone once it returns, so a pointer into it would dangle. To keep "
                "things simple the kernel refuses any stack pointer in R0 when a subprogram returns, even one "
                "into the caller's stack.",
        fix="Let the caller own the buffer: pass a pointer to the caller's stack as an argument and write "
            "through it; return a number (a length, a status), not the pointer.",
        lesson="calls",
    ),
    Entry(
        key="combined-stack",
        pattern=re.compile(r"combined stack size of (?P<calls>\d+) calls is (?P<size>\d+)\. Too large"),
        title="Too much stack along a chain of calls",
        check="check_max_stack_depth",
        meaning="All the functions along one chain of calls share a budget of 512 bytes of stack. After the "
                "walk the verifier adds up their frames, each rounded up to 16 bytes (32 without the JIT).",
        fix="Use less stack in the deep functions: move large buffers to a per-CPU array map, or inline fewer "
            "functions into each other.",
        lesson="calls",
        detail="{calls} functions on one call chain need {size} bytes together; the limit is 512.",
    ),
    Entry(
        key="missing-func-info",
        pattern=re.compile(r"missing btf func_info"),
        title="A function pointer without BTF",
        check="check_ld_imm",
        meaning="Taking a function's address (for a callback such as bpf_loop's) requires BTF describing the "
                "program's functions, the func_info that clang emits with -g and libbpf passes to the kernel.",
        fix="Build the program from C with clang -g and load it with libbpf; hand-written assembly without "
            "BTF cannot use callbacks.",
        lesson="calls",
    ),
    Entry(
        key="callback-return-range",
        pattern=re.compile(r"At callback return the register R0 has (?P<has>.+) should have been in "
                           r"\[(?P<lo>-?\d+), (?P<hi>-?\d+)\]"),
        title="A callback returns a value outside [0, 1]",
        check="prepare_func_exit",
        meaning="A bpf_loop or bpf_for_each_map_elem callback tells the helper whether to go on (0) or stop (1). "
                "At the callback's exit every value R0 may hold must be in that range; the verifier checks its "
                "bounds, the same way as a program's return code.",
        fix="Return 0 or 1 from the callback, e.g. return 0 to continue and 1 to break out of the loop.",
        example="r0 = 0      /* continue */\nexit",
        lesson="calls",
        detail="At the callback's exit R0 has {has}; a callback must return a value in [{lo}, {hi}].",
    ),
    Entry(
        key="callback-return-not-scalar",
        pattern=re.compile(r"R0 not a scalar value"),
        title="A callback returns no number",
        check="prepare_func_exit",
        meaning="A callback's return value (0: go on, 1: stop) is a number. At its exit R0 holds a pointer or "
                "was never set.",
        fix="Set r0 to 0 or 1 before the callback's exit.",
        lesson="calls",
    ),
    Entry(
        key="for-each-map-type",
        pattern=re.compile(r"callback function not allowed for map"),
        title="bpf_for_each_map_elem on a map it cannot walk",
        check="set_map_elem_callback_state",
        meaning="bpf_for_each_map_elem can walk array and hash maps (per-CPU and LRU ones included); other map "
                "types have no way to call a function on each element.",
        fix="Keep the elements in an array or hash map, or walk them with bpf_loop and lookups.",
        lesson="calls",
    ),
    Entry(
        key="map-key-write",
        pattern=re.compile(r"write to change key R(?P<reg>\d+) not allowed"),
        title="Writing through a map key pointer",
        check="check_mem_access",
        meaning="A bpf_for_each_map_elem callback receives a pointer to the element's key (map_key). The key is "
                "the map's: changing it in place would corrupt the map, so the pointer is read-only.",
        fix="Copy the key to the stack and change the copy.",
        lesson="calls",
    ),
    Entry(
        key="map-key-out-of-range",
        pattern=re.compile(r"invalid access to map key, key_size=(?P<key_size>\d+) off=(?P<off>-?\d+) "
                           r"size=(?P<size>\d+)"),
        title="Access outside a map key",
        check="check_mem_region_access",
        meaning="A map key pointer (the key a bpf_for_each_map_elem callback receives) points at key_size bytes; "
                "every load through it must stay inside them.",
        fix="Read only within the key's layout.",
        lesson="calls",
        detail="The key has {key_size} byte(s); this access is {size} byte(s) at offset {off}.",
    ),
    Entry(
        key="kfunc-unsupported",
        pattern=re.compile(r"calling kernel functions is not supported"),
        title="Kernel function calls are not available here",
        check="",
        meaning="A call with BPF_PSEUDO_KFUNC_CALL calls a kernel function (kfunc) described by the kernel's "
                "BTF. The playground has no kernel BTF, so it can neither check nor run such calls; the "
                "message is the playground's.",
        fix="Use a helper that does the same job, if one exists.",
        lesson="calls",
    ),
    # --- loops and limits ---------------------------------------------------------------------------------
    Entry(
        key="back-edge",
        pattern=re.compile(r"back-edge from insn (?P<insn>\d+) to (?P<target>\d+)"),
        title="A loop in an unprivileged program",
        check="check_cfg",
        meaning="A jump backwards makes a loop. Loaders without CAP_BPF may not use loops at all; privileged "
                "ones may, when the walk shows that each loop ends.",
        fix="Unroll the loop (#pragma unroll in C), or load the program with CAP_BPF.",
        lesson="loops",
    ),
    Entry(
        key="infinite-loop",
        pattern=re.compile(r"infinite loop detected at insn (?P<insn>\d+)"),
        title="A loop that cannot end",
        check="is_state_visited",
        meaning="Walking a loop, the verifier came back to this instruction in exactly the state it had the "
                "last time on the same path: nothing changed in between, so the loop would run forever.",
        fix="Make every iteration change what the exit condition tests, and compare it with a bound the "
            "verifier can see.",
        example="r1 = 0\nloop:\nr1 += 1\nif r1 < 16 goto loop",
        lesson="loops",
        detail="Instruction {insn} was reached twice in the same state.",
    ),
    Entry(
        key="jump-sequence",
        pattern=re.compile(r"The sequence of (?P<jumps>\d+) jumps is too complex\."),
        title="Too many branches waiting to be explored",
        check="push_stack",
        meaning="Each conditional jump whose outcome the verifier cannot decide leaves a branch to explore "
                "later. More than 8192 waiting at once (BPF_COMPLEXITY_LIMIT_JMP_SEQ), typical of a long loop "
                "with a branch in every iteration, is refused.",
        fix="Take branches out of loops (compute values without jumping), lower the loop bound, or use "
            "bpf_loop so that the body is checked once.",
        lesson="limits",
    ),
    Entry(
        key="too-many-insns",
        pattern=re.compile(r"BPF program is too large\. Processed (?P<insns>\d+) insn"),
        title="The verifier's instruction budget ran out",
        check="do_check",
        meaning="The verifier follows every path and gives up after processing 1,000,000 instructions "
                "(BPF_COMPLEXITY_LIMIT_INSNS), counting an instruction each time a path reaches it. Loops with "
                "large bounds and branchy bodies get there quickly.",
        fix="Lower the loop bound, remove branches that make states differ, or use bpf_loop so that the body "
            "is verified once.",
        lesson="limits",
    ),
    Entry(
        key="playground-limit",
        pattern=re.compile(r"stopped after (?P<insns>[\d,]+) processed instructions, .*no verdict"),
        title="The playground's own limit",
        check="",
        meaning="The playground stops its verifier well before the kernel's 1,000,000 processed instructions "
                "so that a page stays quick. This is not a rejection: the kernel might accept the program.",
        fix="Shorten the walk (smaller loop bounds) to get a verdict here, or raise the page's limit "
            "(MAX_VERIFY_INSNS) when you run the playground yourself.",
        lesson="limits",
    ),
    # --- exit and return values ---------------------------------------------------------------------------
    Entry(
        key="return-range",
        pattern=re.compile(r"At program exit the register R0 has (?P<has>.+) should have been in "
                           r"\[(?P<lo>-?\d+), (?P<hi>-?\d+)\]"),
        title="A return value outside the hook's range",
        check="check_return_code",
        meaning="Some hooks give the return value a fixed meaning and accept only a range: cgroup programs "
                "return 1 (allow) or 0 (deny), for example. Every value R0 may hold at exit must be in it.",
        fix="Return only allowed values; when R0 is computed, map it onto them with a branch.",
        example="r0 = 1      /* allow */\nexit",
        lesson="exit-return-value",
        detail="At exit R0 has {has}; this hook accepts values in [{lo}, {hi}].",
    ),
    Entry(
        key="return-not-scalar",
        pattern=re.compile(r"At program exit the register R(?P<reg>\d+) is not a known value \((?P<type>\w+)\)"),
        title="Returning a pointer where a number is expected",
        check="check_return_code",
        meaning="The hook expects a number in R0 at exit, and R0 holds a pointer.",
        fix="Set r0 to a number before exit.",
        lesson="exit-return-value",
    ),
    Entry(
        key="return-leaks-addr",
        pattern=re.compile(r"R0 leaks addr as return value"),
        title="Returning a pointer without privileges",
        check="check_return_code",
        meaning="Without privileges a program may not return a pointer: the value would reveal a kernel "
                "address.",
        fix="Return a number.",
        lesson="exit-return-value",
    ),
)
