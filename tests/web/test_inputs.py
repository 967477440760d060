"""The hook picker, the input panel of every hook (POST /input), and every input field of the run form:
good values reach the engine, bad ones are refused with the message beside the field."""
from __future__ import annotations

import html as html_lib
import io
import re
import struct

import pytest
from markupsafe import escape

from app import create_app
from app.ebpf.packets import build_packet, parse_spec
from app.ebpf.progtypes import PROG_TYPES
from app.ebpf.tracepoints import EVENTS
from app.web.examples import BY_SLUG
from app.web.panels import HOOK_TITLES

from .conftest import HTMX

XDP_FILTER = BY_SLUG["xdp-filter"].source
RETURN_LEN = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = r3\nr0 -= r2\nexit\n"  # xdp: the packet's length


def field_error(html: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="{re.escape(name)}-error"[^>]*>(.*?)</p>', html, re.S)
    assert match, f"no error slot for {name}"
    return html_lib.unescape(match.group(1))


def retval(html: str) -> int:
    return int(re.search(r'<code class="retval">(0x[0-9a-f]+)</code>', html).group(1), 16)


def pcap(packets: list[bytes]) -> bytes:
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for p in packets:
        out += struct.pack("<IIII", 0, 0, len(p), len(p)) + p
    return out


# --- the hook picker and POST /input ---------------------------------------------------------------------

def test_hook_picker_lists_every_program_type_with_its_doc(client):
    html = client.get("/").get_data(as_text=True)
    picker = re.search(r'<select id="type" name="type".*?</select>', html, re.S).group(0)
    assert '<option value="raw" selected>' in picker
    for name in PROG_TYPES:  # a few words each; the doc of the chosen one is under the picker (test_playground)
        assert f'<option value="{name}">{name} — {escape(HOOK_TITLES[name])}</option>' in picker
    assert 'hx-post="/input"' in picker and 'hx-target="#input-panel"' in picker
    assert 'hx-params="not source,pcap"' in picker  # the panel needs neither the program nor an upload


@pytest.mark.parametrize("hook, expected", [
    ("raw", ['id="mem"', "r1 = its address"]),
    ("xdp", ['id="packet_from-fields"', 'id="eth_dst"', 'id="l3"', 'id="ip_src"', 'id="sport"', 'id="payload"',
             'id="packet_spec"', 'id="packets"', 'id="pcap"']),
    ("sched_cls", ['id="packet-builder"', "__sk_buff"]),
    ("kprobe", ['id="ctx_di"', "arg1 (di)", "arg5 (r8)", 'id="ctx_ax"', "Other registers"]),
    ("tracepoint", ['id="event"', 'id="ctx_flags"', 'id="ctx_dfd"', "common fields"]),
    ("raw_tracepoint", ['id="ctx_args0"', 'id="ctx_args11"']),
    ("perf_event", ['id="ctx_sample_period"', 'id="ctx_addr"', 'id="ctx_di"']),
    ("cgroup_sock_addr", ['id="ctx_user_ip4"', 'id="ctx_user_port"', "0a 00 00 02", "bpf_htons(80)"]),
])
def test_input_panel_for_each_hook(post_form, hook, expected):
    response = post_form("/input", htmx=True, type=hook)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<fieldset id="input-panel"') and "<html" not in html
    for text in expected:
        assert text in html, text
    assert "HX-Request" in response.headers["Vary"]


def test_input_panel_hides_what_the_hook_cannot_read(post_form):
    html = post_form("/input", htmx=True, type="cgroup_sock_addr").get_data(as_text=True)
    assert 'id="ctx_user_ip6"' not in html and 'id="ctx_msg_src_ip4"' not in html  # not in connect4 programs
    assert 'placeholder="2"' in html  # user_family defaults to AF_INET


def test_input_panel_keeps_values_and_follows_the_layers(post_form):
    html = post_form("/input", htmx=True, type="xdp", packet_from="fields", l3="ipv6", l4="tcp", ip_src="fd00::9",
                     payload="x").get_data(as_text=True)
    assert 'id="ip_src" name="ip_src" value="fd00::9" placeholder="fd00::1"' in html
    assert 'id="tcp_flags"' in html and 'id="icmp_type"' not in html
    assert '<option value="ipv6" selected>' in html and '<option value="tcp" selected>' in html
    icmp = post_form("/input", htmx=True, type="xdp", l3="none", l4="icmp").get_data(as_text=True)
    assert 'id="icmp_type"' in icmp and 'id="ip_src"' not in icmp and 'id="sport"' not in icmp


def test_input_panel_for_a_tracepoint_event(post_form):
    html = post_form("/input", htmx=True, type="tracepoint", event="sched/sched_process_exec").get_data(as_text=True)
    assert '<option value="sched/sched_process_exec" selected>' in html
    assert 'id="ctx_pid"' in html and 'id="ctx_old_pid"' in html and 'id="str_filename"' in html
    assert 'id="ctx_flags"' not in html
    for name in EVENTS:
        assert f'<option value="{name}"' in html


LONG_KPROBE = "r0 = *(u64 *)(r1 + 112)\n" + "r0 += 0 // keep going\n" * 280 + "exit\n"  # 6 KB
"""More than gunicorn takes in a request line (4 KB): the reason ``/input`` is a POST."""


def test_show_its_inputs_posts_the_editor_form(client):
    html = client.get("/").get_data(as_text=True)
    editor = re.search(r'<form id="editor".*?</form>', html, re.S).group(0)
    assert re.search(r'<form id="editor"[^>]* method="post"', editor)
    button = re.search(r'<button[^>]*>Show its inputs</button>', editor).group(0)
    assert 'formaction="/input"' in button and "formmethod" not in button  # the form's POST, with its CSRF token


def test_input_without_htmx_is_the_page_for_those_fields(post_form):
    assert len(LONG_KPROBE.encode()) > 6000
    response = post_form("/input", source=LONG_KPROBE, type="kprobe", ctx_di="9", max_insns="1000")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith("<!doctype html>")
    assert '<option value="kprobe" selected>' in html and 'id="ctx_di" name="ctx_di" value="9"' in html
    assert html_lib.unescape(re.search(r'<textarea id="source"[^>]*>\n?(.*?)</textarea>', html, re.S).group(1)) \
        == LONG_KPROBE  # the program comes back as it was
    assert retval(html) == 9  # the page runs what it shows


def test_input_by_get_is_refused_clearly(client):
    response = client.get("/input?type=kprobe&source=" + "r0%20%3D%200%0A" * 600)
    assert response.status_code == 405 and response.headers["Allow"] == "POST"
    assert "Show its inputs" in response.get_data(as_text=True)


def test_input_needs_the_csrf_token(client):
    response = client.post("/input", data={"type": "kprobe", "source": "exit"})
    assert response.status_code == 400 and "did not come from this site" in response.get_data(as_text=True)


def test_input_pages_count_against_the_run_limit_and_panels_do_not(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'l.sqlite3'}",
                      "RUN_RATE_PER_MINUTE": 1, "RUN_BURST": 1})
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf_token"] = "token"

    def post(htmx: bool = False, **fields: str):
        return client.post("/input", data={"csrf_token": "token", **fields}, headers=HTMX if htmx else {})

    for _ in range(3):  # the panel alone runs nothing
        assert post(htmx=True, type="xdp").status_code == 200
    fields = dict(source=LONG_KPROBE, type="kprobe", max_insns="1000")
    assert post(**fields).status_code == 200
    refused = post(**fields)
    assert refused.status_code == 429 and refused.mimetype == "text/html"
    assert refused.headers["Retry-After"] == "60" and "Too many runs" in refused.get_data(as_text=True)


def test_unknown_hook_is_refused_beside_the_picker(post_form):
    response = post_form("/run", source="exit", type="nope")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "type") == "unknown hook 'nope'"


# --- the packet builder -------------------------------------------------------------------------------------

def test_packet_from_fields(post_form):
    fields = dict(type="xdp", packet_from="fields", eth_dst="02:00:00:00:00:0a", eth_src="", vlan="on",
                  vlan_vid="7", vlan_pcp="3", l3="ipv4", ip_src="10.0.0.9", ip_dst="", ip_ttl="5", l4="tcp",
                  sport="1000", dport="22", tcp_flags="SA", payload="hi")
    html = post_form("/run", source=RETURN_LEN, **fields).get_data(as_text=True)
    expected = build_packet(parse_spec("eth(dst=02:00:00:00:00:0a)/vlan(vid=7,pcp=3)/ipv4(src=10.0.0.9,ttl=5)/"
                                       "tcp(sport=1000,dport=22,flags=SA)/payload(hi)"))
    assert retval(html) == len(expected)
    assert "VLAN 7, priority 3" in html and "10.0.0.9 → 10.0.0.2, TCP, ttl 5" in html and "flags SA" in html
    assert 'id="vlan" name="vlan" value="on" checked' in html  # the form shows what was sent


@pytest.mark.parametrize("field, value, message", [
    ("eth_dst", "02:00", "is not a MAC address"),
    ("ip_src", "10.0.0.300", "is not an IPv4 address"),
    ("ip_dst", "fd00::1", "is not an IPv4 address"),
    ("ip_ttl", "256", "must be a number from 0 to 255"),
    ("sport", "70000", "must be a number from 0 to 65535"),
    ("dport", "http", "'http' is not a number"),
])
def test_packet_field_errors_are_beside_the_field(post_form, field, value, message):
    response = post_form("/run", source="r0 = 2\nexit\n", type="xdp", packet_from="fields", l3="ipv4", l4="udp",
                         **{field: value})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in field_error(html, field)
    assert f'<a href="#{field}">Packet: ' in html  # the summary links to the field


@pytest.mark.parametrize("extra, field, message", [
    ({"l4": "tcp", "tcp_flags": "Z"}, "tcp_flags", "unknown flag 'Z'"),
    ({"l4": "icmp", "icmp_type": "300"}, "icmp_type", "from 0 to 255"),
    ({"vlan": "on", "vlan_vid": "5000"}, "vlan_vid", "from 0 to 4095"),
    ({"l3": "ipv6", "ip_src": "10.0.0.1"}, "ip_src", "is not an IPv6 address"),
    ({"l3": "none", "l4": "udp"}, "packet", "udp needs an IP layer"),
])
def test_layer_specific_errors(post_form, extra, field, message):
    response = post_form("/run", source="r0 = 2\nexit\n", type="xdp", packet_from="fields", **{"l3": "ipv4", **extra})
    assert response.status_code == 422
    assert message in field_error(response.get_data(as_text=True), field)


def test_packet_from_spec_lines_runs_each_packet(post_form):
    html = post_form("/run", source=XDP_FILTER, type="xdp", packet_from="spec",
                     packet_spec="eth/ipv4/udp\n\neth/ipv6/udp\r\neth/ipv4/tcp").get_data(as_text=True)
    assert re.findall(r'<span class="verdict-name[^"]*">([^<]*)</span>', html) == ["XDP_PASS", "XDP_DROP", "XDP_PASS"]
    bad = post_form("/run", source=XDP_FILTER, type="xdp", packet_from="spec", packet_spec="eth/ipv4\neth/ipv4(ttl=x)")
    assert bad.status_code == 422
    assert field_error(bad.get_data(as_text=True), "packet_spec") == "line 2: ipv4.ttl: 'x' is not a number"
    empty = post_form("/run", source=XDP_FILTER, type="xdp", packet_from="spec", packet_spec=" ")
    assert "write a packet" in field_error(empty.get_data(as_text=True), "packet_spec")


def test_packet_from_hex_lines(post_form):
    udp, v6 = (build_packet(parse_spec(s)).hex() for s in ("eth/ipv4/udp", "eth/ipv6/udp"))
    html = post_form("/run", source=RETURN_LEN, type="xdp", packet_from="hex", packets=f"{udp}\n{v6}").get_data(
        as_text=True)
    assert "2 packets, run one after another" in html
    bad = post_form("/run", source=RETURN_LEN, type="xdp", packet_from="hex", packets=f"{udp}\n0g")
    assert field_error(bad.get_data(as_text=True), "packets").startswith("line 2: not hex: 'g'")
    short = post_form("/run", source=RETURN_LEN, type="xdp", packet_from="hex", packets="0102")
    assert short.status_code == 422
    assert "BPF_PROG_TEST_RUN needs at least 14" in field_error(short.get_data(as_text=True), "packets")


def test_packet_limits(app, post_form):
    app.config["MAX_PACKETS"] = 2
    udp = build_packet(parse_spec("eth/ipv4/udp")).hex()
    response = post_form("/run", source=RETURN_LEN, type="xdp", packet_from="hex", packets="\n".join([udp] * 3))
    assert "3 packets; at most 2" in field_error(response.get_data(as_text=True), "packets")


def test_pcap_upload_runs_every_packet(client, csrf):
    packets = [build_packet(parse_spec(s)) for s in ("eth/ipv4/udp", "eth/ipv6/udp", "eth/ipv4/tcp")]
    data = {"csrf_token": csrf, "source": XDP_FILTER, "type": "xdp", "packet_from": "pcap", "max_insns": "1000",
            "run": "1", "pcap": (io.BytesIO(pcap(packets)), "three.pcap")}
    html = client.post("/run", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert re.findall(r'<span class="verdict-name[^"]*">([^<]*)</span>', html) == ["XDP_PASS", "XDP_DROP", "XDP_PASS"]
    assert 'value="1" checked' in html and "packet 2 of 3" in html  # the run chosen to step
    # The packets are now carried as hex: the editor shows them, and so does the step form.
    assert 'id="packet_from-hex" value="hex" checked' in html and "These packets came from <strong>three.pcap" in html
    stepper = re.search(r'<form id="stepper".*?</form>', html, re.S).group(0)
    assert f'name="packets" value="{packets[0].hex()}\n{packets[1].hex()}\n{packets[2].hex()}"' in stepper


@pytest.mark.parametrize("upload, message", [
    (None, "choose a pcap or pcapng file"),
    ((b"not a capture", "x.pcap"), "unknown magic number"),
    ((pcap([]), "empty.pcap"), "the capture holds no packets"),
    ((b"\xd4\xc3\xb2\xa1" + bytes(300), "big.pcap"), "larger than 256 bytes"),
])
def test_pcap_upload_errors(app, client, csrf, upload, message):
    app.config["MAX_PCAP_BYTES"] = 256
    data = {"csrf_token": csrf, "source": "r0 = 2\nexit\n", "type": "xdp", "packet_from": "pcap", "max_insns": "10"}
    if upload:
        data["pcap"] = (io.BytesIO(upload[0]), upload[1])
    response = client.post("/run", data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert message in field_error(response.get_data(as_text=True), "pcap")


# --- context hooks ----------------------------------------------------------------------------------------

def test_kprobe_registers_reach_the_program(post_form):
    html = post_form("/run", source="r0 = *(u64 *)(r1 + 112)\nr2 = *(u64 *)(r1 + 104)\nr0 += r2\nexit\n",
                     type="kprobe", ctx_di="40", ctx_si="0x2").get_data(as_text=True)
    assert retval(html) == 42
    negative = post_form("/run", source="r0 = *(u64 *)(r1 + 112)\nexit\n", type="kprobe", ctx_di="-100")
    assert retval(negative.get_data(as_text=True)) == (1 << 64) - 100


@pytest.mark.parametrize("hook, field, value, message", [
    ("kprobe", "ctx_di", "abc", "must be a number"),
    ("kprobe", "ctx_si", "0x1ffffffffffffffff", "must be a number"),
    ("raw_tracepoint", "ctx_args1", "99999999999999999999", "does not fit in 8 bytes"),
    ("raw_tracepoint", "ctx_args1", "1e3", "must be a number"),
    ("cgroup_sock_addr", "ctx_user_ip4", "10.0.0.256", "is not an IPv4 address like 10.0.0.2"),
    ("cgroup_sock_addr", "ctx_user_port", "70000", "does not fit in 2 bytes"),
    ("cgroup_sock_addr", "ctx_type", "0x100000000", "does not fit in 4 bytes"),
    ("tracepoint", "ctx___syscall_nr", "0x80000000", "does not fit"),  # no: a 4-byte signed field takes it
])
def test_context_field_errors_are_beside_the_field(post_form, hook, field, value, message):
    response = post_form("/run", source="r0 = 0\nexit\n", type=hook, **{field: value})
    if field == "ctx___syscall_nr":
        assert response.status_code == 200  # 0x80000000 fits a 4-byte field (as unsigned)
        return
    assert response.status_code == 422
    assert message in field_error(response.get_data(as_text=True), field)


def test_sock_addr_conversions(post_form):
    ip = post_form("/run", source="r0 = *(u32 *)(r1 + 4)\nexit\n", type="cgroup_sock_addr", ctx_user_ip4="10.0.0.2")
    assert retval(ip.get_data(as_text=True)) == 0x0200000A
    raw = post_form("/run", source="r0 = *(u32 *)(r1 + 4)\nexit\n", type="cgroup_sock_addr", ctx_user_ip4="0x1234")
    assert retval(raw.get_data(as_text=True)) == 0x1234  # a number is taken as the raw value
    port = post_form("/run", source="r0 = *(u32 *)(r1 + 24)\nexit\n", type="cgroup_sock_addr", ctx_user_port="80")
    assert retval(port.get_data(as_text=True)) == 0x5000


def test_tracepoint_event_fields_and_strings(post_form):
    html = post_form("/run", source="r0 = *(u64 *)(r1 + 32)\nexit\n", type="tracepoint",
                     event="syscalls/sys_enter_openat", ctx_flags="0o101").get_data(as_text=True)
    assert retval(html) == 0o101
    exec_html = post_form("/run", source="r0 = *(u32 *)(r1 + 8)\nexit\n", type="tracepoint",
                          event="sched/sched_process_exec", str_filename="/bin/true").get_data(as_text=True)
    assert retval(exec_html) >> 16 == len("/bin/true") + 1
    assert "&#39;/bin/true&#39; (10 bytes at +20)" in exec_html  # the step view decodes the __data_loc field
    bad = post_form("/run", source="r0 = 0\nexit\n", type="tracepoint", event="nope/nope")
    assert field_error(bad.get_data(as_text=True), "event") == "unknown event 'nope/nope'"


# --- the environment and map seeds ---------------------------------------------------------------------------

def test_environment_reaches_the_helpers(post_form):
    html = post_form("/run", source="call bpf_get_current_pid_tgid\nexit\n", env_pid="7", env_tgid="0x9",
                     env_comm="nginx").get_data(as_text=True)
    assert retval(html) == 9 << 32 | 7
    assert 'id="env-panel" class="panel" open' in html and 'id="env_comm" name="env_comm" value="nginx"' in html
    closed = post_form("/run", source="exit").get_data(as_text=True)
    assert 'id="env-panel" class="panel">' in closed  # collapsed until something is set


@pytest.mark.parametrize("field, value, message", [
    ("env_pid", "abc", "must be a number"),
    ("env_pid", "-1", "does not fit in 8 bytes (0 to"),
    ("env_cpu", "5", "must be between 0 and ncpus-1"),
    ("env_ncpus", "0", "must be between 1 and 64"),
    ("env_comm", "x" * 16, "at most 15 bytes"),
])
def test_environment_errors_are_beside_the_field(post_form, field, value, message):
    response = post_form("/run", source="exit", **{field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in field_error(html, field)
    assert 'id="env-panel" class="panel" open' in html


def seeds(*rows):
    return {"seed_map": [r[0] for r in rows], "seed_key": [r[1] for r in rows], "seed_value": [r[2] for r in rows]}


COUNTER = BY_SLUG["tracepoint-openat"].source


def test_map_seeds_set_entries_before_the_run(client, csrf):
    data = {"csrf_token": csrf, "source": COUNTER, "type": "tracepoint", "max_insns": "1000", "ctx_flags": "0",
            **seeds(("opens", "01000000", "0500000000000000"), ("", "", ""))}
    html = client.post("/run", data=data).get_data(as_text=True)
    assert '<code>06 00 00 00 00 00 00 00</code> <span class="muted">= 6</span>' in html
    assert "was <code>05 00 00 00 00 00 00 00</code>" in html  # seeded with 5
    assert 'id="seed-0-map" name="seed_map" value="opens"' in html and 'id="seed-1-map"' in html
    assert 'id="seed-2-map"' not in html  # one empty row, not two
    assert '<option value="opens">array</option>' in html  # the map names to pick from
    assert "<code>opens</code> <span class=\"muted\">array, key 4 bytes, value 8 bytes, 2 entries" in html


@pytest.mark.parametrize("row, message", [
    (("opens", "zz", "00"), "key: not hex"),
    (("opens", "00", "0g"), "value: not hex"),
    (("", "00", "00"), "name the map to seed"),
    (("nope", "01000000", "0100000000000000"), "no map 'nope' in the program"),
    (("opens", "0100", "0100000000000000"), "key is 2 bytes"),
    (("opens", "09000000", "0100000000000000"), "E2BIG"),
    (("0", "01000000", "01"), "value is 1 bytes"),
])
def test_map_seed_errors_are_beside_their_row(client, csrf, row, message):
    data = {"csrf_token": csrf, "source": COUNTER, "type": "tracepoint", "max_insns": "1000",
            **seeds(("", "", ""), row)}
    response = client.post("/run", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in field_error(html, "seed-1")  # the second row: blank rows keep their place
    assert field_error(html, "seed-0") == ""
    assert '<a href="#seed-1-map">Map seed 2</a>' in html
    assert 'id="seeds-panel" class="panel" open' in html


# --- htmx: errors out of band, and only for the form on the page ------------------------------------------------

def test_htmx_run_updates_every_error_slot_of_the_form(client, csrf):
    data = {"csrf_token": csrf, "source": "exit", "type": "xdp", "packet_from": "fields", "l3": "ipv4", "l4": "tcp",
            "ip_src": "bad", "max_insns": "10", **seeds(("", "", ""))}
    html = client.post("/run", data=data, headers=HTMX).get_data(as_text=True)
    for slot in ("source", "type", "max_insns", "packet", "packet_spec", "packets", "pcap", "eth_dst", "ip_ttl",
                 "sport", "tcp_flags", "payload", "env_pid", "env_comm", "seed-0"):
        assert f'<p class="field-error" id="{slot}-error" hx-swap-oob="true"></p>' in html, slot
    assert '<p class="field-error" id="ip_src-error" hx-swap-oob="true">&#39;bad&#39; is not an IPv4 address' in html
    assert 'id="icmp_type-error"' not in html and 'id="mem-error"' not in html  # not on the page for this form
    assert '<div id="declared-maps" class="declared-maps" hx-swap-oob="true">' in html


def test_runs_asked_for_by_the_step_form_leave_the_editor_alone(post_form):
    html = post_form("/run", source="exit", origin="stepper", htmx=True).get_data(as_text=True)
    assert html.lstrip().startswith('<section id="result"') and "hx-swap-oob" not in html
