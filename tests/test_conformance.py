"""The public conformance suites (bpf_conformance and uBPF) pass in full, through the CLI command."""
from __future__ import annotations

import json

from app.cli import main
from app.ebpf.conformance import parse_raw, run_suite


def test_suites_pass(conformance_dir):
    suite = run_suite(conformance_dir)
    failures = [(r.file, r.expected, r.got) for r in suite.results if r.status == "failed"]
    assert failures == []
    assert suite.passed >= 440
    for r in suite.results:
        if r.status == "skipped":
            assert r.reason  # every skip says why


def test_cli_prints_counts_and_reasons(conformance_dir, capsys):
    assert main(["conformance", str(conformance_dir / "bpf_conformance")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(tuple("0123456789")) and " passed, 0 failed, " in out[-1]
    assert any(line.startswith("skip ") and "RFC 9669" in line for line in out)


def test_cli_json_shape(conformance_dir, capsys):
    assert main(["conformance", str(conformance_dir / "ubpf"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"passed", "failed", "skipped", "failures"}
    assert data["failed"] == 0 and data["failures"] == []


def test_a_wrong_expectation_is_reported(tmp_path, capsys):
    (tmp_path / "wrong.data").write_text("-- asm\nmov %r0, 1\nexit\n-- result\n0x2\n")
    (tmp_path / "right.data").write_text("-- asm\nmov %r0, 2\nexit\n-- result\n0x2\n")
    assert main(["conformance", str(tmp_path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] == 1 and data["failed"] == 1
    assert data["failures"][0]["file"] == "wrong.data"
    assert data["failures"][0]["expected"] == "0x0000000000000002"
    assert data["failures"][0]["got"] == "0x0000000000000001"


def test_raw_layouts():
    words = parse_raw("0x00000001000000b7 # mov r0, 1\n0x0000000000000095\n")
    bytes8 = parse_raw("b7 00 00 00 01 00 00 00\n95 00 00 00 00 00 00 00\n")
    assert words == bytes8 and words[0].imm == 1
