"""The catalogue of verifier messages (``app/ebpf/verifier/explain.py``): every message the kernel gave in the
corpus and every message our verifier can produce has an entry, no entry is dead or shadowed, and the most
specific entry wins.

Our verifier's messages are found by reading its source: each message handed to ``Reject``, ``LoadError``,
``CfgError`` or ``_rejected`` (a literal, an f-string, a variable assigned one, or a ``*_problem`` function's
return value) becomes a sample by putting a value in each ``{...}`` field. A new message without an entry
fails :func:`test_every_message_our_verifier_emits_is_explained`.
"""
from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from app.ebpf.verifier.explain import ENTRIES, LESSON_SLUGS, explain
from tests.verifier_corpus import load_cases

ROOT = Path(__file__).resolve().parent.parent
VERIFIER_SOURCES = sorted((ROOT / "app" / "ebpf" / "verifier").glob("*.py")) + [ROOT / "app" / "ebpf" / "loadcheck.py"]

#: The functions that carry a message, and which positional argument it is.
MESSAGE_ARGUMENT = {"Reject": 0, "LoadError": 1, "CfgError": 1, "_rejected": 1, "BtfAccessError": 0}

#: Values to try for an f-string field, by the field's source text; any other field gets "1". A format is
#: explained when one combination gives a message the catalogue knows.
FIELD_SAMPLES = {
    "what": ("map value", "memory", " write to", "write to", "map_value", "map key"),
    "extra": ("value_size=8", "mem_size=8", "key_size=4"),
    "has": ("unknown scalar value",),
    "r.type_name()": ("scalar",),
    "reg.type_name()": ("scalar",),
    "base.type_name()": ("scalar", "map_value_or_null"),
    "r0.type_name()": ("scalar",),
    "base.type": ("map_ptr",),
    "T.strn(b.var_off)": ("(0x0; 0x7)",),
    "T.strn(reg.b.var_off)": ("(0x0; 0x7)",),
    "T.strn(ptr_reg.b.var_off)": ("(0x0; 0x7)",),
    "desc": ("value ", ""),
    "var": ("0", "(0x0; 0x3c)"),
}

#: The kernel's wording where neither the corpus nor our verifier has it (older kernels, unprivileged
#: loads, a variable offset), and the entry that explains it.
KERNEL_WORDING = {
    "R1 sign-extension part of pointer": "ptr-sign-extension",
    "invalid indirect access to stack R1 off=-8 size=16": "stack-out-of-bounds",
    "misaligned stack access off (0x0; 0x0)+-4+0 size 8": "stack-misaligned",
    "R3 leaks addr into map": "leaks-addr",
    "back-edge from insn 4 to 1": "back-edge",
    # spectre.py builds these in Sanitation.error, which the source scan does not follow
    "R1 has unknown scalar with mixed signed bounds, pointer arithmetic with it prohibited for !root":
        "ptr-mixed-signed-bounds",
    "R0 tried to add beyond pointer bounds, pointer arithmetic with it prohibited for !root":
        "ptr-alu-beyond-bounds-unprivileged",
    "R0 tried to sub from different maps, paths or scalars, pointer arithmetic with it prohibited for !root":
        "ptr-alu-paths-unprivileged",
    # the line check_map_access's error is followed by, at a pointer move (walklog.py)
    "R0 pointer arithmetic of map value goes out of range, prohibited for !root":
        "map-value-ptr-out-of-range-unprivileged",
}

#: Messages to the entry that must win for them: where a general entry also matches.
MOST_SPECIFIC = {
    "R0 invalid mem access 'map_value_or_null'": "null-deref",
    "R2 invalid mem access 'sock_common_or_null'": "null-deref",
    "R1 invalid mem access 'scalar'": "scalar-deref",
    "R3 invalid mem access 'pkt_end'": "invalid-mem-access",
    "R1 type=ringbuf_mem_or_null expected=ringbuf_mem": "helper-arg-null",
    "R3 type=map_value_or_null expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_":
        "helper-arg-null",
    "R2 type=scalar expected=func": "helper-arg-type",
    "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first": "ptr-arith-null",
    "R3 pointer arithmetic on pkt_end prohibited": "ptr-arith-type",
    "R1 pointer arithmetic prohibited": "ptr-alu-unprivileged",
    "math between pkt pointer and register with unbounded min value is not allowed": "ptr-unbounded-min",
    "math between map_value pointer and 4294967294 is not allowed": "ptr-huge-constant",
    "invalid access to map value pointer, value_size=8 off=8": "map-value-pointer-offset",
    "invalid access to map value, value_size=8 off=8 size=8": "map-value-out-of-range",
    "R2 invalid zero-sized read: u64=[0,0]": "helper-size-zero",
    "invalid zero-sized read": "zero-sized-read",
    "R0 unbounded memory access, make sure to bounds check any such access": "index-unbounded",
    "R2 unbounded memory access, use 'var &= const' or 'if (var < const)'": "helper-size-unbounded",
    "invalid unbounded variable-offset write to stack R1": "stack-var-unbounded",
    "invalid variable-offset write to stack R1 var_off=(0x0; 0xf) off=-16 size=8": "stack-var-out-of-bounds",
    "invalid write to stack R1 off=-8 size=16": "stack-out-of-bounds",
    "R0 !read_ok": "reg-not-init",
    "At program exit the register R0 has unknown scalar value should have been in [0, 1]": "return-range",
}


# --- collecting messages ----------------------------------------------------------------------------------

def corpus_messages() -> set[str]:
    """The kernel's first error line of every rejected case in ``tests/data/verifier``."""
    return {case.msg for case in load_cases() if case.msg}


def _returned_messages(function: ast.FunctionDef) -> list[ast.expr]:
    """The string and f-string values a function (or a function inside it) returns."""
    return [node.value for node in ast.walk(function) if isinstance(node, ast.Return)
            and (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                 or isinstance(node.value, ast.JoinedStr))]


def _message_expressions(node: ast.expr, scope: ast.FunctionDef | None,
                         functions: dict[str, ast.FunctionDef]) -> list[ast.expr]:
    """The literals and f-strings an argument expression can be: itself, both sides of ``a if c else b``,
    what a local variable was assigned, or what a called function of the verifier returns. Messages
    forwarded from an object (``problem.message``) are collected where the object is made."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str) or isinstance(node, ast.JoinedStr):
        return [node]
    if isinstance(node, ast.IfExp):
        return (_message_expressions(node.body, scope, functions)
                + _message_expressions(node.orelse, scope, functions))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
        return _returned_messages(functions[node.func.id])
    if isinstance(node, ast.Name) and scope is not None:
        found = []
        for assign in ast.walk(scope):
            if isinstance(assign, ast.Assign) and any(isinstance(t, ast.Name) and t.id == node.id
                                                      for t in assign.targets):
                found += _message_expressions(assign.value, None, functions)
        return found
    return []


def message_formats() -> set[str]:
    """Every message format of our verifier, as its source text (``f'R{regno} !read_ok'``)."""
    trees = [ast.parse(path.read_text(), str(path)) for path in VERIFIER_SOURCES]
    functions = {f.name: f for tree in trees for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    formats: set[str] = set()
    for scope in functions.values():
        for call in ast.walk(scope):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                    and call.func.id in MESSAGE_ARGUMENT and len(call.args) > MESSAGE_ARGUMENT[call.func.id]):
                continue
            argument = call.args[MESSAGE_ARGUMENT[call.func.id]]
            formats.update(ast.unparse(e) for e in _message_expressions(argument, scope, functions))
    return formats


def samples(fmt: str) -> list[str]:
    """Messages a format can produce: each ``{field}`` replaced by the values of FIELD_SAMPLES (or "1")."""
    node = ast.parse(fmt, mode="eval").body
    if isinstance(node, ast.Constant):
        return [node.value]
    choices = []
    for part in node.values:
        if isinstance(part, ast.Constant):
            choices.append((part.value,))
        else:
            choices.append(FIELD_SAMPLES.get(ast.unparse(part.value), ("1",)))
    return ["".join(parts) for parts in itertools.product(*choices)]


CORPUS = sorted(corpus_messages())
FORMATS = sorted(message_formats())
SAMPLE_MESSAGES = sorted(set(CORPUS) | {s for f in FORMATS for s in samples(f)} | set(KERNEL_WORDING))


# --- every message is explained -----------------------------------------------------------------------------

def test_the_collection_finds_the_messages_it_should():
    """Guards the source scan itself: if it found nothing, every later test would pass vacuously."""
    assert len(CORPUS) >= 150 and len(FORMATS) >= 90
    assert "f'R{regno} !read_ok'" in FORMATS  # a plain f-string
    assert "f'The sequence of {len(self.pending) + 1} jumps is too complex.'" in FORMATS  # through a variable
    assert "'calling kernel functions is not supported'" in FORMATS  # one side of a conditional
    assert "f'combined stack size of {frames} calls is {total}. Too large'" in FORMATS  # a *_problem return
    assert "'expected prog array map for tail call'" in FORMATS


@pytest.mark.parametrize("message", CORPUS)
def test_every_kernel_message_in_the_corpus_is_explained(message):
    assert explain(message) is not None, f"no catalogue entry matches the kernel's {message!r}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_message_our_verifier_emits_is_explained(fmt):
    tried = samples(fmt)
    assert any(explain(m) is not None for m in tried), f"no catalogue entry for {fmt} (tried {tried})"


# --- the table itself -----------------------------------------------------------------------------------------

def test_every_entry_wins_for_some_message():
    """No dead entry: each one is the answer for at least one sample (a pattern that only ever matches
    after an earlier, more general one would be shadowed)."""
    winners = {explain(m).entry.key for m in SAMPLE_MESSAGES if explain(m)}
    dead = [e.key for e in ENTRIES if e.key not in winners]
    assert not dead, f"entries no sample message reaches: {dead}"


@pytest.mark.parametrize("message, key", KERNEL_WORDING.items())
def test_kernel_wording_we_do_not_produce_is_explained(message, key):
    assert explain(message).entry.key == key


@pytest.mark.parametrize("message, key", MOST_SPECIFIC.items())
def test_the_most_specific_entry_wins(message, key):
    assert explain(message).entry.key == key


def test_keys_are_unique_and_lessons_are_known():
    keys = [e.key for e in ENTRIES]
    assert len(keys) == len(set(keys))
    assert {e.lesson for e in ENTRIES} == set(LESSON_SLUGS), "a lesson slug is unused, or an entry's is unlisted"
    assert len(LESSON_SLUGS) == len(set(LESSON_SLUGS))
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) for slug in LESSON_SLUGS)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.key)
def test_entries_are_complete(entry):
    assert entry.title and entry.meaning and entry.fix
    assert entry.check == "" or re.fullmatch(r"_*[a-z][a-z0-9_]*", entry.check), entry.check
    fields = set(re.findall(r"{(\w+)}", entry.detail))
    assert fields <= set(entry.pattern.groupindex), f"detail names groups the pattern lacks: {fields}"
    for text in (entry.title, entry.meaning, entry.fix):
        assert text == text.strip() and "  " not in text


def test_playground_messages_say_so():
    """Entries without a kernel check are the playground's own words, and their meaning says it."""
    for entry in ENTRIES:
        if not entry.check:
            assert "playground" in entry.meaning, entry.key


# --- what explain returns ---------------------------------------------------------------------------------

def test_parts_and_detail_are_read_from_the_message():
    e = explain("invalid access to packet, off=12 size=4, R2(id=0,off=12,r=14)\n")
    assert e.entry.key == "packet-out-of-range" and e.entry.lesson == "packet-bounds"
    assert e.entry.check == "check_packet_access"
    assert e.parts == {"off": "12", "size": "4", "reg": "2", "id": "0", "r": "14"}
    assert e.detail == "R2 touches 4 byte(s) at offset 12, but the range proven on this path is r=14."
    assert e.message == "invalid access to packet, off=12 size=4, R2(id=0,off=12,r=14)"
    unreleased = explain("Unreleased reference id=2 alloc_insn=4")
    assert unreleased.detail == "The object acquired at instruction 4 is still held at exit."
    assert explain("R0 !read_ok").parts == {"reg": "0"}


def test_unknown_messages_and_partial_matches_are_not_explained():
    assert explain("the verifier is having a bad day") is None
    assert explain("") is None
    assert explain("R0 !read_ok and more") is None  # patterns match whole messages
    assert explain("prefix: div by zero") is None

