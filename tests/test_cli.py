"""The command-line contract: commands, output formats and exit codes."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.cli import main

SOURCE = "r0 = 0\nr1 = 10\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n"


@pytest.fixture
def prog(tmp_path):
    path = tmp_path / "sum.s"
    path.write_text(SOURCE)
    return path


def test_asm_prints_hex_one_instruction_per_line(prog, capsys):
    assert main(["asm", str(prog)]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "b700000000000000" and lines[-1] == "9500000000000000" and len(lines) == 6


def test_asm_writes_raw_bytes_and_disasm_reads_them(prog, tmp_path, capsys):
    out = tmp_path / "sum.bin"
    assert main(["asm", str(prog), "-o", str(out)]) == 0
    assert len(out.read_bytes()) == 48
    assert main(["disasm", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[3] == "r1 -= 1"
    assert main(["disasm", "--log", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[4] == "4: (55) if r1 != 0x0 goto pc-3"


def test_run_json_contract(prog, capsys):
    assert main(["run", str(prog), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"retval": 55, "retval_name": None, "insns_executed": 2 + 3 * 10 + 1, "fault": None,
                    "packet_out": None, "maps": [], "output": []}


def test_run_with_memory_and_packet(tmp_path, capsys):
    path = tmp_path / "m.s"
    path.write_text("r0 = *(u16 *)(r1 + 0)\nexit\n")
    assert main(["run", str(path), "--mem", "3412", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["retval"] == 0x1234
    assert main(["run", str(path), "--packet", "34 12 00", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["retval"] == 0x1234 and data["packet_out"] == "341200"


def test_run_typed_program_on_a_packet(tmp_path, capsys):
    path = tmp_path / "xdp.s"
    path.write_text("r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = 1\nr2 += 14\n"
                    "if r2 > r3 goto out\nr0 = 2\nout:\nexit\n")
    frame = "ff" * 6 + "02" * 6 + "0800" + "45" + "00" * 19
    assert main(["run", str(path), "--type", "xdp", "--packet", frame, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["retval"], data["retval_name"], data["packet_out"]) == (2, "XDP_PASS", frame)
    assert main(["run", str(path), "--type", "xdp", "--packet", "0800"]) == 2
    assert "at least 14" in capsys.readouterr().err
    assert main(["run", str(path), "--type", "xdp"]) == 2


def test_run_fault_exits_1(tmp_path, capsys):
    path = tmp_path / "f.s"
    path.write_text("r0 = *(u8 *)(r10 + 0)\nexit\n")
    assert main(["run", str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["fault"]["kind"] == "memory" and data["fault"]["pc"] == 0 and data["retval"] is None


def test_instruction_limit(prog, capsys):
    assert main(["run", str(prog), "--max-insns", "10", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["fault"]["kind"] == "limit"


def test_assembly_error_exits_1_with_line_and_column(tmp_path, capsys):
    path = tmp_path / "bad.s"
    path.write_text("r0 = 0\nr11 = 1\n")
    assert main(["asm", str(path)]) == 1
    assert "line 2, col 1: unknown register 'r11'" in capsys.readouterr().err


def test_decode_error_exits_1(tmp_path, capsys):
    path = tmp_path / "bad.bin"
    path.write_bytes(bytes.fromhex("b700000000000000ff00000000000000"))
    assert main(["disasm", str(path)]) == 1
    assert "insn 1: unknown opcode 0xff" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["nosuch"], ["run"], ["run", "x.s", "--max-insns", "many"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2


def test_missing_file_and_bad_hex_exit_2(prog, capsys):
    assert main(["asm", "/nonexistent/x.s"]) == 2
    assert main(["run", str(prog), "--mem", "zz"]) == 2
    assert "--mem: not hex" in capsys.readouterr().err
    assert main(["run", str(prog), "--max-insns", "0"]) == 2


def test_console_script_is_installed(prog):
    out = subprocess.run([sys.executable, "-m", "app.cli", "run", str(prog), "--json"], capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout)["retval"] == 55


def test_environment_and_simulated_memory(tmp_path, capsys):
    path = tmp_path / "env.s"
    path.write_text("r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0x7f0000000000 ll\ncall bpf_probe_read_user\n"
                    "r6 = *(u64 *)(r10 - 8)\ncall bpf_get_current_pid_tgid\nr0 += r6\nexit\n")
    assert main(["run", str(path), "--env", "pid=5", "--env", "tgid=0", "--user-mem", "0x7f0000000000=0a00000000000000",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["retval"] == 15
    assert main(["run", str(path), "--env", "nope=1"]) == 2
    assert main(["run", str(path), "--env", "cpu=9"]) == 2


def test_maps_seeds_and_several_packets(tmp_path, capsys):
    path = tmp_path / "count.s"
    path.write_text("""
        r1 = 0
        *(u32 *)(r10 - 4) = r1
        r1 = 0 ll
        r1 = map_fd(0) ll
        r2 = r10
        r2 += -4
        call bpf_map_lookup_elem
        if r0 == 0 goto out
        r1 = 1
        lock *(u64 *)(r0 + 0) += r1
    out:
        r0 = 2
        exit
    """)
    argv = ["run", str(path), "--type", "xdp", "--map", "array:4:8:1", "--seed-map", "0:00000000:0a00000000000000",
            "--packet-spec", "eth/ipv4/udp", "--packet", "00" * 20, "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["retval_name"] for r in data["runs"]] == ["XDP_PASS", "XDP_PASS"]
    assert data["maps"][0]["entries"] == {"00000000": "0c00000000000000"}


def test_c_and_elf_files(tmp_path, capsys):
    from app.ebpf.cc import compiler_available

    if not compiler_available()[0]:
        pytest.skip("no C compiler")
    src = tmp_path / "prog.c"
    src.write_text('#include <bpf/bpf_helpers.h>\nSEC("xdp") int prog(struct xdp_md *ctx) { return XDP_DROP; }\n'
                   'char LICENSE[] SEC("license") = "GPL";\n')
    assert main(["run", str(src), "--packet", "00" * 14, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["retval_name"] == "XDP_DROP"  # the program type comes from the section
    assert main(["disasm", str(src)]) == 0
    assert capsys.readouterr().out.strip().endswith("exit")
    bad = tmp_path / "bad.c"
    bad.write_text("int x(\n")
    assert main(["run", str(bad)]) == 1
    assert "bad.c:1:" in capsys.readouterr().err


def test_verify(tmp_path, capsys):
    good = tmp_path / "good.s"
    good.write_text("r0 = 2\nexit\n")
    assert main(["verify", str(good), "--type", "xdp"]) == 0
    assert capsys.readouterr().out.startswith("accepted: processed 2 insns")
    bad = tmp_path / "bad.s"
    bad.write_text("r0 = *(u32 *)(r1 + 3)\nexit\n")
    assert main(["verify", str(bad), "--type", "socket_filter", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "reject" and data["error"] == {
        "insn": 0, "message": "invalid bpf_context access off=3 size=4", "errno": "EACCES"}
    assert main(["verify", str(good)]) == 2


def test_verify_prints_the_log_in_the_kernels_format(tmp_path, capsys):
    bad = tmp_path / "bad.s"
    bad.write_text("r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)\nexit\n")
    assert main(["verify", str(bad), "--type", "xdp", "--log-level", "2"]) == 1
    assert capsys.readouterr().out.splitlines() == [  # Linux 6.18's level-2 log for this program
        "func#0 @0",
        "Live regs before insn:",
        "      0: .1........ (61) r2 = *(u32 *)(r1 +0)",
        "      1: ..2....... (71) r0 = *(u8 *)(r2 +0)",
        "      2: 0......... (95) exit",
        "0: R1=ctx() R10=fp0",
        "0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=pkt(r=0)",
        "1: (71) r0 = *(u8 *)(r2 +0)",
        "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)",
        "R2 offset is outside of the packet",
        "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0",
    ]
    good = tmp_path / "good.s"
    good.write_text("r0 = 2\nexit\n")
    assert main(["verify", str(good), "--type", "xdp", "--log-level", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["log"] == "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n"  # as the kernel


def test_verify_with_declared_maps_and_unprivileged(tmp_path, capsys):
    lookup = tmp_path / "lookup.s"
    lookup.write_text("r1 = 0\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = map_fd(0) ll\ncall 1\nr0 = 0\nexit\n")
    assert main(["verify", str(lookup), "--type", "xdp", "--map", "hash:4:8:16"]) == 0
    leak = tmp_path / "leak.s"
    leak.write_text("r0 = r10\nexit\n")
    assert main(["verify", str(leak), "--type", "socket_filter"]) == 0
    assert main(["verify", str(leak), "--type", "socket_filter", "--unpriv"]) == 1
    assert "R0 leaks addr as return value" in capsys.readouterr().out


def test_run_verifies_first_unless_told_not_to(tmp_path, capsys):
    bad = tmp_path / "bad.s"
    bad.write_text("r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)\nexit\n")
    assert main(["run", str(bad), "--type", "xdp", "--packet-spec", "eth", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert "retval" not in out and out["verifier"]["accepted"] is False
    assert out["verifier"]["error"]["message"].startswith("invalid access to packet")
    assert main(["run", str(bad), "--type", "xdp", "--packet-spec", "eth"]) == 1
    assert "--no-verify runs it anyway" in capsys.readouterr().out
    assert main(["run", str(bad), "--type", "xdp", "--packet-spec", "eth", "--no-verify", "--json"]) == 0
    assert "verifier" not in (ran := json.loads(capsys.readouterr().out)) and ran["retval"] == 2  # dst MAC byte
    good = tmp_path / "good.s"
    good.write_text("r0 = 2\nexit\n")
    assert main(["run", str(good), "--type", "xdp", "--packet-spec", "eth", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verifier"] == {"accepted": True, "verdict": "accept", "error": None}
