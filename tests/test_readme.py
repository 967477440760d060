"""The README stays true: its commands are the ones CI runs, its examples assemble, its CLI table is complete."""
from __future__ import annotations

import re
from pathlib import Path

from app.cli import build_parser
from app.ebpf import assemble

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def code_blocks(lang: str = "") -> list[str]:
    return [body for tag, body in re.findall(r"```(\w*)\n(.*?)```", README, re.S) if tag == lang]


def test_two_commands_and_ci_runs_the_test_one():
    commands = [line for block in code_blocks("sh") for line in block.splitlines() if line and line[0] != "#"]
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()


def test_assembly_example_assembles():
    example = next(b for b in code_blocks() if "start:" in b)
    program = assemble(example)
    assert len(program.insns) > 10 and program.maps[0].name == "counts"


def test_every_cli_command_is_documented():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in sub.choices:
        assert f"`ebpf-playground {name} " in README, name
