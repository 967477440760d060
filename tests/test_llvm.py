"""Our bytes equal LLVM's for every instruction form, and llvm-objdump's listing assembles back unchanged.
Skipped where LLVM 19's tools are not installed."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.ebpf import assemble

DATA = Path(__file__).resolve().parent / "data"

LLVM_MC = shutil.which("llvm-mc-19")
OBJCOPY = shutil.which("llvm-objcopy-19") or shutil.which("llvm-objcopy")
OBJDUMP = shutil.which("llvm-objdump-19") or shutil.which("llvm-objdump")
pytestmark = pytest.mark.skipif(not (LLVM_MC and OBJCOPY), reason="llvm-mc-19 is not installed")

CORPUS = DATA / "asm" / "llvm_forms.s"


@pytest.fixture(scope="module")
def llvm_object(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("llvm")
    obj, binary = tmp / "forms.o", tmp / "forms.bin"
    subprocess.run([LLVM_MC, "-triple", "bpfel", "-mcpu=v4", "-filetype=obj", str(CORPUS), "-o", str(obj)],
                   check=True)
    subprocess.run([OBJCOPY, "-O", "binary", "--only-section=.text", str(obj), str(binary)], check=True)
    return obj, binary.read_bytes()


def test_corpus_covers_every_kind_of_form():
    ops = {i.spec.op for i in assemble(CORPUS.read_text()).insns if i.spec}
    assert len(ops) >= 50


def test_same_bytes_as_llvm_mc(llvm_object):
    _, theirs = llvm_object
    program = assemble(CORPUS.read_text())
    ours = program.to_bytes()
    lines = CORPUS.read_text().splitlines()
    diffs = [(pc, lines[program.lines[pc] - 1], ours[pc * 8:pc * 8 + 8].hex(), theirs[pc * 8:pc * 8 + 8].hex())
             for pc in range(len(ours) // 8) if ours[pc * 8:pc * 8 + 8] != theirs[pc * 8:pc * 8 + 8]]
    assert diffs == [] and len(ours) == len(theirs)


@pytest.mark.skipif(not OBJDUMP, reason="llvm-objdump is not installed")
def test_objdump_listing_assembles_back(llvm_object):
    obj, theirs = llvm_object
    dump = subprocess.run([OBJDUMP, "-d", "--mcpu=v4", str(obj)], check=True, capture_output=True, text=True).stdout
    lines = [line for line in dump.splitlines() if re.match(r"^\s+\d+:", line)]
    ours = assemble("\n".join(lines)).to_bytes()
    # llvm-objdump prints a bpf-to-bpf call like a helper call ("call 0x2"), so those differ in src only
    for pc in range(len(theirs) // 8):
        a, b = ours[pc * 8:pc * 8 + 8], theirs[pc * 8:pc * 8 + 8]
        if b[0] == 0x85 and b[1] == 0x10:
            assert a[0] == 0x85 and a[2:] == b[2:]
        else:
            assert a == b, (pc, lines[pc] if pc < len(lines) else "")
