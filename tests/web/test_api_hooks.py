"""POST /api/v1/run with hooks: ``type``, ``maps``, every ``input`` field, ``env`` and ``seeds``, good and bad."""
from __future__ import annotations

import pytest

from app.ebpf import assemble
from app.ebpf.env import Env
from app.ebpf.packets import build_packet, parse_spec
from app.ebpf.vm import run
from app.web.examples import BY_SLUG

from .test_api import error_of

XDP_FILTER = BY_SLUG["xdp-filter"].source
UDP = build_packet(parse_spec("eth/ipv4/udp(dport=53)/payload(hi)")).hex()
IPV6 = build_packet(parse_spec("eth/ipv6/udp")).hex()
COUNT = """\
.map hits type=array key_size=4 value_size=8 max_entries=2
    r1 = 0
    *(u32 *)(r10 - 4) = r1
    r1 = hits ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = *(u64 *)(r0 + 0)
    r1 += 1
    *(u64 *)(r0 + 0) = r1
    r0 = r1
out:
    exit
"""


def run_api(client, **body):
    response = client.post("/api/v1/run", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# --- type and packets -------------------------------------------------------------------------------------

def test_xdp_with_a_packet_names_the_verdict(client):
    body = run_api(client, source=XDP_FILTER, type="xdp", input={"packet": UDP})
    assert body["retval"] == 2 and body["retval_name"] == "XDP_PASS"
    assert body["packet_out"] == UDP
    assert body["maps"][0]["entries"] == {"11000000": "0100000000000000"}


def test_packet_spec_string_and_list(client):
    one = run_api(client, source=XDP_FILTER, type="xdp", input={"packet_spec": "eth/ipv6/udp"})
    assert one["retval_name"] == "XDP_DROP" and "runs" not in one
    two = run_api(client, source=XDP_FILTER, type="xdp", input={"packet_spec": ["eth/ipv4/udp", "eth/ipv4/tcp"]})
    assert [r["retval_name"] for r in two["runs"]] == ["XDP_PASS", "XDP_PASS"]
    assert two["maps"][0]["entries"] == {"11000000": "0100000000000000", "06000000": "0100000000000000"}


def test_several_packets_share_the_maps_and_list_each_run(client):
    body = run_api(client, source=XDP_FILTER, type="xdp", input={"packets": [UDP, UDP, IPV6]})
    assert [r["retval_name"] for r in body["runs"]] == ["XDP_PASS", "XDP_PASS", "XDP_DROP"]
    assert all("maps" not in r for r in body["runs"])
    assert body["retval_name"] == "XDP_DROP"  # the last run's result, with the maps after all runs
    assert body["maps"][0]["entries"] == {"11000000": "0200000000000000"}


def test_raw_type_with_a_packet_keeps_the_legacy_layout(client):
    body = run_api(client, source="r0 = *(u16 *)skb[0]\nexit\n", type="raw", input={"packet": "1234"})
    assert body["retval"] == 0x1234


# --- context hooks ----------------------------------------------------------------------------------------

def test_kprobe_context_by_alias(client):
    body = run_api(client, source="r0 = *(u64 *)(r1 + 112)\nr2 = *(u64 *)(r1 + 104)\nr0 += r2\nexit\n",
                   type="kprobe", input={"ctx": {"arg1": 40, "si": 2}})
    assert body["retval"] == 42


def test_tracepoint_event_fields_and_strings(client):
    source = BY_SLUG["tracepoint-openat"].source
    body = run_api(client, source=source, type="tracepoint",
                   input={"event": "syscalls/sys_enter_openat", "ctx": {"flags": 0x40}})
    assert body["maps"][0]["entries"]["00000000"] == "0100000000000000"
    exec_source = "r0 = *(u32 *)(r1 + 8)\nexit\n"  # the __data_loc word: length << 16 | offset
    body = run_api(client, source=exec_source, type="tracepoint",
                   input={"event": "sched/sched_process_exec", "strings": {"filename": "/bin/sh"}})
    assert body["retval"] >> 16 == len("/bin/sh") + 1


def test_cgroup_sock_addr_context_is_raw_numbers(client):
    body = run_api(client, source=BY_SLUG["connect4-port"].source, type="cgroup_sock_addr",
                   input={"ctx": {"user_ip4": 0x0200000A, "user_port": 0x5000}})
    assert body["retval"] == 1 and body["retval_name"] == "allow"


# --- maps, seeds, env -------------------------------------------------------------------------------------

def test_maps_declared_for_bytecode_and_seeded(client):
    program = assemble(COUNT)
    bytecode = program.to_bytes().hex()
    body = run_api(client, bytecode=bytecode, maps=[{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 2}],
                   seeds=[{"map": 0, "key": "00000000", "value": "0900000000000000"}])
    assert body["retval"] == 10
    assert body["maps"][0]["name"] == "map0" and body["maps"][0]["entries"]["00000000"] == "0a00000000000000"
    named = run_api(client, source=COUNT, seeds=[{"map": "hits", "key": "00000000", "value": "0100000000000000"}])
    assert named["retval"] == 2


def test_env_reaches_the_helpers(client):
    source = "call bpf_get_current_pid_tgid\nexit\n"
    body = run_api(client, source=source, env={"pid": 7, "tgid": 9})
    assert body["retval"] == 9 << 32 | 7
    body = run_api(client, source="call bpf_get_smp_processor_id\nexit\n", env={"cpu": 3, "ncpus": 4})
    assert body["retval"] == 3
    assert body == run(assemble("call bpf_get_smp_processor_id\nexit\n"), env=Env(cpu=3, ncpus=4)).to_json()


# --- refusals, each naming its field ----------------------------------------------------------------------

@pytest.mark.parametrize("payload, field", [
    ({"type": "xdp", "input": {"packet": "00" * 10}}, "input.packet"),  # shorter than an Ethernet header
    ({"type": "xdp", "input": {"packet": UDP, "packets": [UDP]}}, "input.packets"),
    ({"type": "xdp", "input": {"packets": []}}, "input.packets"),
    ({"type": "xdp", "input": {"packets": [UDP, 5]}}, "input.packets"),
    ({"type": "xdp", "input": {"packets": [UDP, "zz"]}}, "input.packets[1]"),
    ({"type": "xdp", "input": {"packet_spec": "eth/ipv4(dst=nope)"}}, "input.packet_spec"),
    ({"type": "xdp", "input": {"packet_spec": ["eth", "bogus"]}}, "input.packet_spec[1]"),
    ({"type": "xdp", "input": {"packet_spec": 5}}, "input.packet_spec"),
    ({"type": "xdp", "input": {"mem": "00"}}, "input.mem"),  # xdp takes a packet, not memory
    ({"type": "kprobe", "input": {"ctx": {"nope": 1}}}, "input.ctx.nope"),
    ({"type": "kprobe", "input": {"ctx": {"di": "1"}}}, "input.ctx.di"),
    ({"type": "kprobe", "input": {"ctx": {"di": True}}}, "input.ctx.di"),
    ({"type": "kprobe", "input": {"packet": UDP}}, "input.packet"),
    ({"type": "tracepoint", "input": {"event": "nope/nope"}}, "input.event"),
    ({"type": "tracepoint", "input": {"event": 5}}, "input.event"),
    ({"type": "tracepoint", "input": {"event": "syscalls/sys_enter_openat", "ctx": {"nope": 1}}}, "input.ctx.nope"),
    ({"type": "tracepoint", "input": {"strings": {"filename": 5}}}, "input.strings.filename"),
    ({"type": "tracepoint", "input": {"strings": "x"}}, "input.strings"),
    ({"maps": {}}, "maps"),
    ({"maps": [5]}, "maps[0]"),
    ({"maps": [{"type": "array", "key_size": 4, "value_size": 8}]}, "maps[0].max_entries"),
    ({"maps": [{"type": "array", "key_size": -1, "value_size": 8, "max_entries": 1}]}, "maps[0].key_size"),
    ({"maps": [{"type": "array", "key_size": 4, "value_size": 8, "max_entries": 1, "size": 2}]}, "maps[0].size"),
    ({"maps": [{"key_size": 4, "value_size": 8, "max_entries": 1}]}, "maps[0].type"),
    ({"maps": [{"type": "nope", "key_size": 4, "value_size": 8, "max_entries": 1}]}, "maps[0]"),
    ({"maps": [{"type": "array", "key_size": 8, "value_size": 8, "max_entries": 1}]}, "maps[0]"),  # EINVAL
    ({"maps": [{"type": "array", "name": "", "key_size": 4, "value_size": 8, "max_entries": 1}]}, "maps[0].name"),
    ({"env": []}, "env"),
    ({"env": {"pid": "7"}}, "env.pid"),
    ({"env": {"pid": -1}}, "env.pid"),
    ({"env": {"cpu": 5, "ncpus": 2}}, "env.cpu"),
    ({"env": {"ncpus": 0}}, "env.ncpus"),
    ({"env": {"comm": "x" * 16}}, "env.comm"),
    ({"env": {"comm": 5}}, "env.comm"),
    ({"env": {"memory": []}}, "env.memory"),
    ({"env": {"nope": 1}}, "env.nope"),
    ({"seeds": {}}, "seeds"),
    ({"seeds": [{"map": "hits", "key": "00", "value": "00"}]}, "seeds[0].map"),  # the program has no maps
    ({"seeds": [{"key": "00", "value": "00"}]}, "seeds[0].map"),
    ({"seeds": [{"map": 0, "key": "zz", "value": "00"}]}, "seeds[0].key"),
    ({"seeds": [{"map": 0, "key": "00", "value": 1}]}, "seeds[0].value"),
    ({"seeds": [{"map": 0, "key": "00", "value": "00", "cpu": 1}]}, "seeds[0].cpu"),
])
def test_hook_fields_are_checked_naming_the_field(client, payload, field):
    assert error_of(client.post("/api/v1/run", json={"source": "r0 = 0\nexit\n", **payload}), 400)["field"] == field


def test_seed_that_does_not_fit_names_the_seed(client):
    error = error_of(client.post("/api/v1/run", json={"source": COUNT, "seeds": [
        {"map": "hits", "key": "00000000", "value": "01"}]}), 400)
    assert error["field"] == "seeds[0]" and "value_size 8" in error["message"]


def test_packet_limits(app, client):
    app.config["MAX_PACKETS"] = 2
    error = error_of(client.post("/api/v1/run", json={"source": "r0 = 0\nexit\n", "type": "xdp",
                                                      "input": {"packets": [UDP] * 3}}), 400)
    assert error["field"] == "input.packets" and "at most 2" in error["message"]
    app.config["MAX_INPUT_BYTES"] = 20
    error = error_of(client.post("/api/v1/run", json={"source": "r0 = 0\nexit\n", "type": "xdp",
                                                      "input": {"packet_spec": "eth/ipv4/udp"}}), 400)
    assert error["field"] == "input.packet_spec" and "at most 20" in error["message"]
