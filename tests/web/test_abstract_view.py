"""Abstract beside concrete: the step view shows what the verifier knew about each register at the
instruction about to run, and flags a value outside every recorded state."""
from __future__ import annotations

import html as html_lib
import re
from dataclasses import replace

from app.ebpf import assemble
from app.ebpf.verifier import verify
from app.ebpf.verifier.state import const
from app.web.abstractview import abstract_view
from tests.programs import PACKET_CHECK


def registers(html: str) -> str:
    match = re.search(r'<table id="registers".*?</table>\s*(<p class="abstract-note.*?</p>)?', html, re.S)
    assert match, "no registers table"
    return html_lib.unescape(match.group(0))


def test_the_step_view_shows_the_verifiers_state_beside_the_registers(post_form):
    html = post_form("/step", source=PACKET_CHECK, type="xdp", packet_from="spec", packet_spec="eth/ipv4",
                     step="7", htmx=True).get_data(as_text=True)
    table = registers(html)
    assert '<th scope="col" class="abstract"' in html
    assert "pkt(r=14)" in table  # r2 at insn 7, after the bounds check
    assert re.search(r"scalar\(smin=smin32=0,smax=umax=smax32=umax32=255,var_off=\(0x0; 0xff\)\)", table)  # r5
    assert "every live scalar is in bounds" in table and "is-outside" not in table


def test_raw_programs_have_no_verifier_column(post_form):
    html = post_form("/step", source="r0 = 1\nexit", step="1", htmx=True).get_data(as_text=True)
    assert 'class="abstract"' not in html and "abstract-note" not in html


def test_an_instruction_the_verifier_never_reached_says_so(post_form):
    source = "r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)\nr0 = 0\nexit\n"  # rejected at insn 1
    html = post_form("/step", source=source, type="xdp", packet_from="spec", packet_spec="eth", step="2",
                     htmx=True).get_data(as_text=True)
    assert "The verifier never checked insn 2 (the verifier stopped before it)." in html_lib.unescape(html)


def test_a_value_outside_the_recorded_state_is_flagged():
    program = assemble("r0 = 1\nr0 += 1\nexit")
    result = verify(program, "socket_filter")
    honest = abstract_view(program, result, 1, [1] + [0] * 10, 1)
    assert not honest.outside and honest.rows[0].notation == "1"
    walk = tuple(replace(e, state=e.state.with_frame(e.state.cur.with_reg(0, const(5))))
                 if e.kind == "visit" and e.insn_idx == 0 else e for e in result.walk)
    lying = abstract_view(program, replace(result, walk=walk), 1, [1] + [0] * 10, 1)
    assert lying.outside and lying.rows[0].outside and lying.rows[0].notation == "5"
    assert "bug in this playground's verifier" in lying.note


def test_a_path_pruned_on_an_imprecise_scalar_is_shown_from_the_exact_walk():
    """The jump (r6 = 1) is walked second and pruned at the join by the fall-through's state (r6 = 2,
    relied on by nothing), so after the join the walk recorded only r0 = r6 = 2. A run that jumps is not a
    bug: the view turns to the exactly-pruned walk, which recorded r0 = 1 too."""
    source = ("r2 = *(u32 *)(r1 + 0)\ngoto +0\n" + "r3 = 0\n" + "r3 += 1\n" * 7 + "r6 = 1\nif r2 > 7 goto join\n"
              "r6 = 2\njoin:\nr0 = r6\nexit")
    program = assemble(source)
    result = verify(program, "socket_filter")
    assert [e.kind for e in result.walk].count("prune") == 1
    exit = len(program.insns) - 1
    regs = [1] + [0] * 10
    alone = abstract_view(program, result, exit, regs, 1)
    assert alone.outside  # the walk's own states leave r0 = 1 out
    view = abstract_view(program, result, exit, regs, 1,
                         lambda: verify(program, "socket_filter", track_precision=False))
    assert not view.outside and view.rows[0].notation == "1"
