"""What a run shows: the named verdict, one row per packet, the packets in and out, the maps after the run,
the helper output with links into the stepper, and in the step view the context, the packet and the maps'
value memory at that step."""
from __future__ import annotations

import html as html_lib
import re

import pytest

from app.web.examples import BY_SLUG

from .hexcells import cells, marked

XDP = BY_SLUG["xdp-filter"]
SPECS = "\n".join(XDP.packets)


def section(html: str, element_id: str) -> str:
    match = re.search(rf'<(section|div) id="{element_id}".*?</\1>', html, re.S)
    assert match, f"no #{element_id}"
    return match.group(0)


def xdp(post_form, htmx=False, **fields):
    return post_form("/run", source=XDP.source, type="xdp", packet_from="spec", packet_spec=SPECS, htmx=htmx,
                     **fields).get_data(as_text=True)


# --- the verdict and the runs --------------------------------------------------------------------------------

def test_verdict_names_the_return_value_and_links_to_the_rest(post_form):
    html = xdp(post_form)
    verdict = section(html, "verdict")
    assert '<span class="retval-name">XDP_PASS</span> <code class="retval">0x2</code>' in verdict
    assert "packet 1 of 4" in verdict and "<dt>hook</dt><dd>xdp</dd>" in verdict
    assert '<a href="#packet-out">output packet: unchanged</a>' in verdict and '<a href="#maps">maps: 1 change</a>' in verdict


def test_runs_table_has_a_row_per_packet_and_picks_the_run_to_step(post_form):
    html = xdp(post_form, run="3")
    runs = section(html, "runs")
    rows = re.findall(r"<tr(?: class=\"is-selected\")?>\s*<td>(\d)</td>\s*<td class=\"summary\">([^<]*)</td>", runs)
    assert [n for n, _ in rows] == ["1", "2", "3", "4"]
    assert html_lib.unescape(rows[3][1]) == "IPv6 fd00::1 → fd00::2 · UDP 12345 → 53"
    assert re.findall(r'<span class="verdict-name[^"]*">([^<]*)</span>', runs) == ["XDP_PASS"] * 3 + ["XDP_DROP"]
    assert '<input type="radio" form="stepper" name="run" id="run-pick-3" value="3" checked>' in runs
    assert "packet 4 of 4" in section(html, "verdict")
    stepper = re.search(r'<form id="stepper".*?</form>', html, re.S).group(0)
    assert 'name="run"' not in stepper  # the radio buttons carry it
    assert "Maps after packet 4 of 4" in html


def test_run_index_is_clamped_and_checked(post_form):
    assert "packet 4 of 4" in xdp(post_form, run="9")
    response = post_form("/run", source=XDP.source, type="xdp", packet_from="spec", packet_spec=SPECS, run="x")
    assert response.status_code == 422 and "Packet to step" in response.get_data(as_text=True)


def test_a_single_run_has_no_runs_table(post_form):
    html = post_form("/run", source=XDP.source, type="xdp", packet_from="spec", packet_spec=XDP.packets[0]).get_data(
        as_text=True)
    assert 'id="runs"' not in html
    assert '<input type="hidden" name="run" value="0">' in html


# --- packets ------------------------------------------------------------------------------------------------

def test_output_packet_marks_changed_bytes_and_decodes_headers(client):
    html = client.get("/?example=tc-rewrite").get_data(as_text=True)
    out = re.search(r'<section id="packet-out".*?</section>', html, re.S).group(0)
    assert "47 bytes, <span class=\"changed-count\">4 changed</span>" in out
    assert cells(out, "is-changed") == [("is-changed l-udp", "changed by the run", b) for b in ("14", "e9", "ea", "8c")]
    assert "checksum</dt><dd>0xea8c (correct)" in out  # bpf_l4_csum_replace did its job
    assert 'id="packet-in"' in html  # the input, folded away beside it


def test_non_l2_output_zeroes_the_ethernet_header_and_says_so(client):
    html = client.get("/?example=socket-snaplen").get_data(as_text=True)
    packets = section(html, "run-packets")
    assert "Ethernet (zeroed)" in packets and "14-byte Ethernet header zeroed" in packets
    assert "changed-count" not in packets  # the zeroed header is not counted as a change


def test_unchanged_output_packet_is_folded(post_form):
    html = xdp(post_form)
    assert "<summary>Output packet <span class=\"muted\">the same 47 bytes as the input</span></summary>" in html


# --- maps ------------------------------------------------------------------------------------------------

def test_map_table_marks_added_and_changed_entries(post_form):
    first = section(xdp(post_form, run="0"), "maps")
    assert '<tr class="is-added">' in first and "<code>11 00 00 00</code> <span class=\"muted\">= 17</span>" in first
    third = section(xdp(post_form, run="2"), "maps")  # the second UDP packet: the counter goes from 1 to 2
    assert '<tr class="is-changed">' in third and "was <code>01 00 00 00 00 00 00 00</code>" in third
    assert '<tr>\n          <th scope="row"><code>06 00 00 00</code>' in third  # TCP's entry, unchanged


def test_large_arrays_fold_zero_entries_and_per_cpu_maps_show_every_cpu(post_form):
    source = """.map big type=percpu_array key_size=4 value_size=4 max_entries=100
    r1 = 70
    *(u32 *)(r10 - 4) = r1
    r1 = big ll
    r2 = r10
    r2 += -4
    call bpf_map_lookup_elem
    if r0 == 0 goto out
    r1 = 7
    *(u32 *)(r0 + 0) = r1
out:
    r0 = 0
    exit
"""
    maps = section(post_form("/run", source=source, env_cpu="1").get_data(as_text=True), "maps")
    assert "<th scope=\"col\">cpu0</th><th scope=\"col\">cpu1</th>" in maps
    assert "indexes 0 to 69: zero, unchanged" in maps and "indexes 71 to 99: zero, unchanged" in maps
    row = re.search(r'<tr class="is-changed">.*?</tr>', maps, re.S).group(0)
    assert "[70]" in row and '<td><code>00 00 00 00</code>' in row and '<td class="is-changed"><code>07 00 00 00</code>' in row


def test_deleted_entries_queues_and_ring_buffers(post_form):
    source = """.map h type=hash key_size=4 value_size=4 max_entries=4
.map q type=queue key_size=0 value_size=4 max_entries=4
.map rb type=ringbuf key_size=0 value_size=0 max_entries=4096
    r1 = 1
    *(u32 *)(r10 - 4) = r1
    r1 = h ll
    r2 = r10
    r2 += -4
    call bpf_map_delete_elem
    r1 = q ll
    r2 = r10
    r2 += -4
    r3 = 0
    call bpf_map_push_elem
    r1 = rb ll
    r2 = r10
    r2 += -4
    r3 = 4
    r4 = 0
    call bpf_ringbuf_output
    r0 = 0
    exit
"""
    html = post_form("/run", source=source, seed_map="h", seed_key="01000000", seed_value="2a000000").get_data(
        as_text=True)
    maps = section(html, "maps")
    assert '<tr class="is-deleted">' in maps and "<code>2a 00 00 00</code>" in maps
    assert "1 values, in pop order" in maps and "1 records, oldest first" in maps
    assert maps.count('<span class="badge added">new</span>') == 2
    assert "<dt>producer pos</dt><dd>16</dd>" in maps


# --- helper output ---------------------------------------------------------------------------------------------

def test_helper_output_links_to_the_step_that_produced_it(client, post_form):
    html = client.get("/?example=kprobe-args").get_data(as_text=True)
    output = section(html, "run-output")
    button = re.search(r'<button type="submit" form="stepper" name="step" value="(\d+)" class="goto" '
                       r'data-goto="\1"[^>]*>step (\d+)</button>', output)
    assert button and int(button.group(1)) == int(button.group(2)) + 1
    assert "bpf_trace_printk: dfd=-100 name=7ffd5e1c2a40" in html_lib.unescape(output)
    step = post_form("/step", source=BY_SLUG["kprobe-args"].source, type="kprobe", ctx_di="-100",
                     ctx_si="0x7ffd5e1c2a40", step=button.group(1), htmx=True).get_data(as_text=True)
    assert '<li class="is-new"><span class="muted">pc 15 trace_printk</span>' in step


def test_ring_buffer_records_are_output_with_their_bytes(client):
    html = client.get("/?example=xdp-ringbuf").get_data(as_text=True)
    output = section(html, "run-output")
    assert "events: 8-byte record" in output and '<code class="data">2f 00 00 00 c0 a8 01 0a</code>' in output


# --- the step view: context, packet, map memory ------------------------------------------------------------------

def test_step_view_decodes_the_context_and_marks_a_write(client, post_form):
    source = BY_SLUG["connect4-port"].source
    before = post_form("/step", source=source, type="cgroup_sock_addr", ctx_user_ip4="10.0.0.2", ctx_user_port="80",
                       step="5", htmx=True).get_data(as_text=True)
    assert "<dt>user_ip4 <span class=\"muted\">+4</span></dt><dd>10.0.0.2 (0x0200000a)</dd>" in before
    assert "<dd>port 80 (0x5000)</dd>" in before
    after = post_form("/step", source=source, type="cgroup_sock_addr", ctx_user_ip4="10.0.0.2", ctx_user_port="80",
                      step="6", htmx=True).get_data(as_text=True)
    changed = re.search(r'<div class="is-changed"><dt>user_port.*?</div>', after, re.S)
    assert changed and "port 8080 (0x901f)" in changed.group(0)
    assert 'class="is-hidden" title' in after  # fields the hook may not read are marked


def test_step_view_names_kprobe_arguments(post_form):
    html = post_form("/step", source="r0 = 0\nexit\n", type="kprobe", ctx_di="5", step="0", htmx=True).get_data(
        as_text=True)
    assert "<dt>di (arg1) <span class=\"muted\">+112</span></dt><dd>0x5 (5)</dd>" in html
    assert "<dt>ax (ret)" in html


def test_step_view_shows_the_packet_with_changed_bytes(post_form):
    tc = BY_SLUG["tc-rewrite"]
    fields = dict(source=tc.source, type="sched_cls", packet_from="spec", packet_spec=tc.packets[0], htmx=True)
    html = post_form("/step", step="31", **fields).get_data(as_text=True)  # just after bpf_skb_store_bytes
    packet = re.search(r'<section id="packet-now".*?</section>', html, re.S).group(0)
    assert marked(packet, "is-changed") == ["14", "e9"] and "l-udp" in cells(packet, "is-changed")[0][0]
    assert "64 bytes of headroom" in packet
    mark = post_form("/step", step="3", **fields).get_data(as_text=True)  # after skb->mark = 42
    assert re.search(r'<div class="is-changed"><dt>mark <span class="muted">\+8</span></dt><dd>0x2a \(42\)', mark)


def test_step_view_shows_map_value_memory_at_the_update(post_form):
    fields = dict(source=XDP.source, type="xdp", packet_from="spec", packet_spec=SPECS, htmx=True)
    html = post_form("/step", step="23", **fields).get_data(as_text=True)  # just after bpf_map_update_elem
    memory = re.search(r'<section id="map-memory".*?</section>\s*</div>\s*</section>', html, re.S).group(0)
    assert "proto_count.values" in memory
    assert re.search(r'<span class="bytes"><span class="is-changed[^"]*"[^>]*>01</span> 00 00', memory)
    assert "proto_count.map" not in memory  # the map object itself is not value memory
    later = post_form("/step", step="16", run="2", **fields).get_data(as_text=True)  # after packet 3's atomic add
    # the atomic add read the counter it wrote
    assert re.search(r'<span class="bytes"><span class="is-changed is-read[^"]*"[^>]*>02</span>', later)


def test_step_view_marks_the_packet_bytes_the_last_step_read(client):
    """Just after ``r4 = *(u16 *)(r2 + 12)`` the EtherType (bytes 12-13) is marked read, and nothing else."""
    page = client.get("/?example=xdp-filter&step=6").get_data(as_text=True)
    packet = section(page, "packet-now")
    assert [(c, t) for c, _, t in cells(packet, "is-read")] == [
        ("is-read run-read l-eth", "08"), ("is-read run-read l-eth", "00")]
    assert '<span class="read-count">2 read</span>' in packet and "read by the last step" in packet
    before = section(client.get("/?example=xdp-filter&step=5").get_data(as_text=True), "packet-now")
    assert "is-read" not in before and "read by the last step" not in before  # r4 += 34 read no memory


def test_step_view_marks_stack_bytes_the_last_step_read(post_form):
    html = post_form("/step", source="r1 = 7\n*(u32 *)(r10 - 8) = r1\nr0 = *(u16 *)(r10 - 8)\nexit\n",
                     step="3", htmx=True).get_data(as_text=True)
    memory = html[html.index('<div id="memory"'):]
    both = 'title="read by the last step, written so far, read so far"'
    so_far = '<span class="run-written" title="written so far">00</span>'
    read = f'<span class="is-read run-written run-read" {both}>07</span> <span class="is-read run-written run-read" ' \
           f'{both}>00</span> {so_far} {so_far}'  # the u16 load, not the u32 store before it
    assert re.search(rf'fp-8</span>\s*<span class="bytes">{read}', memory)


def test_step_view_marks_what_the_run_read_and_wrote_so_far(client):
    """Just after ``bpf_map_lookup_elem``: the packet bytes earlier steps read (the EtherType, the protocol) are
    underlined as read so far and not ringed; the key on the stack was written by an earlier step and read by
    the helper call (its prototype: ``ARG_PTR_TO_MAP_KEY``, key_size bytes); each legend lists its marks."""
    page = client.get("/?example=xdp-filter&step=13").get_data(as_text=True)
    packet = section(page, "packet-now")
    assert cells(packet, "run-read") == [("run-read l-eth", "read so far", "08"), ("run-read l-eth", "read so far", "00"),
                                         ("run-read l-ipv4", "read so far", "11")]
    assert not cells(packet, "is-read") and "read by the last step" not in packet
    assert '<span class="run-read" aria-hidden="true">00</span> read so far <span class="muted">(3)</span>' in packet
    memory = page[page.index('<div id="memory"'):page.index('<section id="context"')]
    key = ("is-read run-written run-read", "read by the last step, written so far, read so far")
    assert cells(memory, "is-read") == [(*key, "11"), (*key, "00"), (*key, "00"), (*key, "00")]
    legend = re.search(r'<p class="byte-legend">.*?</p>', memory).group(0)
    assert [m for m in re.findall(r'</span> ([a-z ]+) <span class="muted">\(4\)', legend)] == [
        "read by the last step", "written so far", "read so far"]
    first = client.get("/?example=xdp-filter&step=0").get_data(as_text=True)
    assert "byte-legend" not in first and "so far" not in section(first, "packet-now")  # nothing run yet


def test_step_view_rings_the_packet_bytes_skb_load_bytes_read(post_form):
    source = "r2 = 12\nr3 = r10\nr3 += -8\nr4 = 2\ncall bpf_skb_load_bytes\nr0 = 0\nexit\n"
    html = post_form("/step", source=source, type="sched_cls", packet_from="spec", packet_spec="eth/ipv4/udp",
                     step="5", htmx=True).get_data(as_text=True)
    packet = section(html, "packet-now")
    assert [(c, t) for c, _, t in cells(packet, "is-read")] == [("is-read run-read l-eth", "08"),
                                                                ("is-read run-read l-eth", "00")]
    memory = html[html.index('<div id="memory"'):]
    assert marked(memory, "run-written") == ["08", "00"]  # the copy on the stack


def test_step_without_htmx_keeps_the_chosen_run(post_form):
    html = xdp(post_form, run="3", step="2")
    assert 'data-index="2"' in html and "packet 4 of 4" in html
    assert '<input type="radio" form="stepper" name="run" id="run-pick-3" value="3" checked>' in html


@pytest.mark.parametrize("slug", ["xdp-filter", "kprobe-args", "tracepoint-openat", "connect4-port"])
def test_step_partials_keep_one_root_and_stable_ids(post_form, slug):
    example = BY_SLUG[slug]
    fields = {"source": example.source, "type": example.type, "packet_from": "spec",
              "packet_spec": "\n".join(example.packets), "event": example.event,
              **{f"ctx_{k}": v for k, v in example.ctx.items()}}
    html = post_form("/step", step="1", htmx=True, **fields).get_data(as_text=True)
    assert html.lstrip().startswith('<section id="step"') and html.rstrip().endswith("</section>")
    assert html.count('<section id="step"') == 1
