"""The verifier's verdict explains a rejection: under the kernel's message, the catalogue's title, what the
check means (with the numbers of this message), the usual fix and the lesson, all escaped."""
from __future__ import annotations

import html as html_lib
import re
from html import unescape

from app.lessons import lesson_by_slug
from app.web import checkview

# Reads the first packet byte before comparing data with data_end: the kernel refuses the load at insn 2.
UNCHECKED_READ = "r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r2 + 0)\nr0 = 2\nexit\n"


def check_section(html: str) -> str:
    match = re.search(r'<section id="verifier-check".*?</section>', html, re.DOTALL)
    assert match, "no #verifier-check"
    return match.group(0)


def post_xdp(post_form, source: str, htmx: bool = False) -> str:
    return post_form("/run", source=source, type="xdp", packet_from="hex", packets="00" * 14,
                     htmx=htmx).get_data(as_text=True)


def test_a_rejection_is_explained_under_the_kernels_message(post_form):
    check = check_section(post_xdp(post_form, UNCHECKED_READ))
    message = "<code>invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)</code>"
    assert message in check
    explained = re.search(r'<details class="explain" open>.*?</details>', check, re.DOTALL).group(0)
    assert check.index(message) < check.index('<details class="explain"')
    assert "<summary>Packet access beyond the checked bounds</summary>" in explained
    assert "<dt>What the check means</dt>" in explained and "<dt>How it is usually fixed</dt>" in explained
    assert "<strong>R2 touches 1 byte(s) at offset 0, but the range proven on this path is r=0.</strong>" in explained
    assert "<code>check_packet_access()</code> in <code>kernel/bpf/verifier.c</code>" in explained
    lesson = lesson_by_slug("packet-bounds")  # the lesson that teaches it, linked once it exists (no dead link)
    if lesson is not None:
        assert f'<dd><a href="/learn/packet-bounds">{lesson.number}. {lesson.title}</a></dd>' in unescape(explained)
    else:
        assert "<a " not in explained


def test_the_explanation_is_escaped(post_form):
    explained = check_section(post_xdp(post_form, UNCHECKED_READ))
    example = re.search(r"<pre><code>(.*?)</code></pre>", explained, re.DOTALL).group(1)
    assert "if r4 &gt; r3 goto drop" in example and "13 + 1 &lt;= 14" in example
    assert html_lib.unescape(example).startswith("r2 = *(u32 *)(r1 + 0)")


def test_the_htmx_fragment_explains_too(post_form):
    fragment = post_xdp(post_form, UNCHECKED_READ, htmx=True)
    assert "<summary>Packet access beyond the checked bounds</summary>" in check_section(fragment)


def test_a_missing_null_check_is_explained(post_form):
    source = (".map counts type=hash key_size=4 value_size=8 max_entries=4\n"
              "r1 = 0\n*(u32 *)(r10 - 4) = r1\nr2 = r10\nr2 += -4\nr1 = counts ll\ncall bpf_map_lookup_elem\n"
              "r1 = *(u64 *)(r0 + 0)\nr0 = 2\nexit\n")
    check = check_section(post_xdp(post_form, source))
    assert "R0 invalid mem access &#39;map_value_or_null&#39;" in check
    assert "<summary>Using a pointer that may be NULL</summary>" in check
    if lesson_by_slug("maps-null-check") is not None:
        assert '<a href="/learn/maps-null-check">' in check


def test_accepted_programs_and_unknown_messages_have_no_explanation(post_form, monkeypatch):
    accepted = check_section(post_xdp(post_form, "r0 = 2\nexit\n"))
    assert "accepted as xdp" in accepted and "explain" not in accepted
    monkeypatch.setattr(checkview, "explain", lambda message: None)
    rejected = check_section(post_xdp(post_form, UNCHECKED_READ))
    assert "rejected" in rejected and "invalid access to packet" in rejected and "explain" not in rejected


def test_a_playground_message_names_no_kernel_check(post_form):
    kfunc_call = ".8byte 0x0000000100002085\nr0 = 2\nexit\n"  # call with src 2: BPF_PSEUDO_KFUNC_CALL
    check = check_section(post_xdp(post_form, kfunc_call))
    assert "<summary>Kernel function calls are not available here</summary>" in check
    assert "Kernel check" not in check and "the message is the playground&#39;s" in check
