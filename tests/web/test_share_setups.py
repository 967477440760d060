"""The setup document (``app.web.setups``): the page's form to a setup and back, without losing anything."""
from __future__ import annotations

from dataclasses import replace

import pytest

from app.web.examples import EXAMPLES
from app.web.forms import RunForm, SeedRow
from app.web.inputs import Limits
from app.web.packetform import DEFAULT_CHOICES, DEFAULT_VALUES, FORM_NAMES
from app.web.runs import check, execute
from app.web.setups import canonical_json, check_setup, form_of_setup, setup_of_form

LIMITS = Limits(64 * 1024, 64 * 1024, 1_000_000)


def results(form: RunForm) -> list:
    """What the engine makes of a form: each run's return value or fault."""
    request, errors = check(form, LIMITS)
    assert request is not None, errors
    outcome = execute(request, form)
    return [(r.retval, r.fault.kind if r.fault else None) for r in outcome.results]


def round_trip(form: RunForm) -> tuple[dict, dict]:
    setup, errors = setup_of_form(form, LIMITS)
    assert setup is not None, errors
    again, errors = setup_of_form(form_of_setup(setup, LIMITS), LIMITS)
    assert again is not None, errors
    return setup, again


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_every_example_survives_the_round_trip(example):
    form = example.form(LIMITS)
    setup, again = round_trip(form)
    assert again == setup
    assert check_setup(setup, LIMITS) == setup  # already normalised
    assert results(form_of_setup(setup, LIMITS)) == results(form)


def packet_form(**fields) -> RunForm:
    layers = {name: "" for name in FORM_NAMES} | DEFAULT_CHOICES | DEFAULT_VALUES
    return RunForm("r0 = 2\nexit\n", "1000000", type="xdp", layers=layers | fields)


def test_the_layer_form_round_trips_with_blank_fields_and_a_cleared_payload():
    form = packet_form(l3="ipv6", l4="tcp", ip_dst="fd00::9", dport="8080", tcp_flags="SA", payload="", vlan="on",
                       vlan_vid="7")
    setup, again = round_trip(form)
    assert again == setup
    assert setup["input"] == {"packet_fields": {"l3": "ipv6", "l4": "tcp", "ip_dst": "fd00::9", "dport": "8080",
                                                "tcp_flags": "SA", "vlan": "on", "vlan_vid": "7"}}
    restored = form_of_setup(setup, LIMITS)
    assert restored.layers["payload"] == ""  # not the builder's default "hello"
    assert restored.packet_from == "fields"
    assert results(restored) == results(form)


def test_spec_and_hex_packets_round_trip():
    spec = replace(packet_form(), packet_from="spec", packet_spec="eth/ipv4/udp\n\n eth/ipv6/tcp(dport=80) \n", run="1")
    setup, again = round_trip(spec)
    assert setup["input"] == {"packet_spec": ["eth/ipv4/udp", "eth/ipv6/tcp(dport=80)"]}
    assert setup["view"] == {"run": 1}
    assert again == setup
    hexed = replace(packet_form(), packet_from="hex", packets="02 00 00 00 00 02 02 00 00 00 00 01 08 00\nFFFF")
    setup, again = round_trip(hexed)
    assert setup["input"] == {"packets": ["0200000000020200000000010800", "ffff"]}
    assert again == setup


def test_context_environment_seeds_and_step_round_trip():
    form = RunForm(".map m type=array key_size=4 value_size=4 max_entries=1\nr0 = 0\nexit\n", "500", step="1",
                   type="cgroup_sock_addr", ctx={"user_ip4": "10.0.0.2", "user_port": "80", "protocol": "0x11"},
                   env={"pid": "0x10", "comm": "nginx", "cpu": ""}, seeds=(SeedRow("m", "00 00 00 00", "2A000000"),
                                                                       SeedRow("", "", "")))
    setup, again = round_trip(form)
    assert again == setup
    assert setup["input"] == {"ctx": {"user_ip4": 0x0200000A, "user_port": 0x5000, "protocol": 17}}
    assert setup["env"] == {"pid": 16, "comm": "nginx"}
    assert setup["seeds"] == [{"map": "m", "key": "00000000", "value": "2a000000"}]
    assert setup["options"] == {"max_insns": 500} and setup["view"] == {"step": 1}
    restored = form_of_setup(setup, LIMITS)
    assert restored.ctx == {"user_ip4": "10.0.0.2", "user_port": "80", "protocol": "17"}
    assert restored.seeds == (SeedRow("m", "00000000", "2a000000"),)


def test_negative_and_large_context_values_are_shown_as_typed():
    form = RunForm("r0 = 0\nexit\n", "1000000", type="kprobe", ctx={"di": "-100", "si": "0x7ffd5e1c2a40"})
    setup, again = round_trip(form)
    assert again == setup
    assert form_of_setup(setup, LIMITS).ctx == {"di": "-100", "si": "0x7ffd5e1c2a40"}


def test_unusable_fields_are_reported_by_form_field():
    setup, errors = setup_of_form(RunForm("exit", "1000000", mem="xyz"), LIMITS)
    assert setup is None and "mem" in errors
    setup, errors = setup_of_form(packet_form(ip_dst="10.0.0.256"), LIMITS)
    assert setup is None and "ip_dst" in errors


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"type": "raw", "source": "é", "env": {"pid": 1}}) == \
        '{"env":{"pid":1},"source":"é","type":"raw"}'


def test_a_form_setup_past_the_stored_size_limit_is_refused_by_name():
    rows = tuple(SeedRow("m", "00000000", "00" * 60_000) for _ in range(4))
    form = RunForm(".map m type=hash key_size=4 value_size=60000 max_entries=8\nr0 = 0\nexit\n", "1000000",
                   seeds=rows)
    setup, errors = setup_of_form(form, LIMITS)
    assert setup is None and "can be shared" in errors["source"]


def test_context_fields_are_stored_by_their_own_names():
    setup = check_setup({"source": "exit", "type": "perf_event", "input": {"ctx": {"arg1": 5, "rip": 9}}}, LIMITS)
    assert setup["input"] == {"ctx": {"di": 5, "ip": 9}}
    assert check_setup(setup, LIMITS) == setup


# --- the language (C programs) ------------------------------------------------------------------------------

C_SOURCE = '#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int f(struct xdp_md *c) { return 2; }\n'


def test_a_c_program_keeps_its_language_through_the_round_trip():
    form = replace(packet_form(), source=C_SOURCE, language="c")
    setup, again = round_trip(form)
    assert setup["language"] == "c" and again == setup
    assert check_setup(setup, LIMITS) == setup
    restored = form_of_setup(setup, LIMITS)
    assert restored.language == "c" and ("language", "c") in restored.hidden_fields()


def test_assembly_setups_store_no_language_so_their_ids_do_not_change():
    setup, _ = round_trip(packet_form())
    assert "language" not in setup
    assert check_setup({**setup, "language": "asm"}, LIMITS) == setup
    assert form_of_setup(setup, LIMITS).language == "asm"


@pytest.mark.parametrize("language", ["rust", "C", 1, None])
def test_an_unknown_language_is_refused_by_name(language):
    from app.web.jsonbody import ApiError

    with pytest.raises(ApiError) as caught:
        check_setup({"source": "exit", "type": "raw", "language": language}, LIMITS)
    assert caught.value.body["field"] == "language" and "unknown language" in caught.value.body["message"]


def test_the_walk_event_and_breakpoints_round_trip():
    form = RunForm("r0 = 0\nexit\n", "1000000", step="1", walk="0", breaks="3, 1,3")
    setup, again = round_trip(form)
    assert setup["view"] == {"step": 1, "walk": 0, "break": [1, 3]}  # walk 0 is a place too: pinned
    assert again == setup
    restored = form_of_setup(setup, LIMITS)
    assert (restored.walk, restored.breaks) == ("0", "1,3")
    assert "view" not in setup_of_form(RunForm("exit", "1000000", walk=" ", breaks=""), LIMITS)[0]
