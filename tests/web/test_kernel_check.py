"""The kernel check (``app/web/kernelcheck.py``): off by default (no button, no route), a clear answer when
``bpf()`` is not permitted, and, where it is, the kernel's verdict, counts and log beside ours. Programs on
which our verifier and the kernel disagree are rare on purpose, so the comparison is tested on made-up
answers and logs."""
from __future__ import annotations

import html as html_lib
import re

import pytest

import app.oracle
from app import create_app, settings_from_env
from app.ebpf import assemble
from app.web.examples import BY_SLUG
from app.web.kernelcheck import (
    KPTR,
    CompareRow,
    KernelCheck,
    Side,
    compare,
    compare_states,
    map_problem,
    mask,
)

from .conftest import HTMX

needs_bpf = pytest.mark.skipif(not app.oracle.bpf_available(), reason="bpf() is not permitted here")
XDP = BY_SLUG["xdp-filter"]
REJECTED = "r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)   # no bounds check\nexit\n"


@pytest.fixture
def on_app(tmp_path):
    return create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}",
                       "KERNEL_CHECK": True})


@pytest.fixture
def on_client(on_app):
    return on_app.test_client()


@pytest.fixture
def no_bpf(monkeypatch):
    monkeypatch.setattr(app.oracle, "bpf_available", lambda: False)


@pytest.fixture
def fake_bpf(monkeypatch):
    """bpf() reported available (for what is decided before the kernel is asked)."""
    monkeypatch.setattr(app.oracle, "bpf_available", lambda: True)


def button(html: str) -> str:
    match = re.search(r'<(form|p) id="kernel-check".*?</\1>', html, re.DOTALL)
    assert match, "no kernel check button"
    return match.group(0)


def check_fields(client, example: str = "xdp-filter") -> dict[str, str]:
    """The fields the button's form sends, as the page renders them (token included)."""
    form = button(client.get(f"/?example={example}").get_data(as_text=True))
    return {name: html_lib.unescape(value)
            for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form, re.DOTALL)}


def post_check(client, htmx: bool = True, **fields: str):
    data = {**check_fields(client), **fields}
    return client.post("/kernel-check", data=data, headers=HTMX if htmx else {})


def rows(html: str) -> dict[str, tuple[str, str, bool]]:
    """The comparison table: what -> (ours, kernel, marked as different)."""
    table = re.search(r'<table class="kc-compare">.*?</table>', html, re.DOTALL).group(0)
    out = {}
    for attrs, what, ours, theirs in re.findall(
            r'<tr( class="is-different")?>\s*<th scope="row">([^<]+?)(?: <span[^>]*>≠</span>)?</th>\s*'
            r'<td>(.*?)</td>\s*<td>(.*?)</td>', table, re.DOTALL):
        out[what] = (re.sub(r"<[^>]+>", "", ours), re.sub(r"<[^>]+>", "", theirs), bool(attrs))
    return out


# --- the setting ----------------------------------------------------------------------------------------------

def test_off_by_default_no_button_and_no_route(client, csrf):
    assert client.application.config["KERNEL_CHECK"] is False
    assert 'id="kernel-check"' not in client.get("/?example=xdp-filter").get_data(as_text=True)
    assert client.post("/kernel-check", data={"csrf_token": csrf, "source": REJECTED, "type": "xdp"}).status_code == 404
    assert client.post("/kernel-check", data={"source": REJECTED}).status_code == 404  # not even a CSRF question


def test_the_setting_from_the_environment_is_true_or_false(tmp_path):
    assert settings_from_env({"EBPF_PLAYGROUND_KERNEL_CHECK": "true"}) == {"KERNEL_CHECK": True}
    for text in ("True", "1", "yes"):
        with pytest.raises(ValueError, match="KERNEL_CHECK.*true or false"):
            create_app({"SECRET_KEY": "x", "DATABASE_URL": f"sqlite:///{tmp_path / 'a.sqlite3'}",
                        **settings_from_env({"EBPF_PLAYGROUND_KERNEL_CHECK": text})})


def test_on_the_button_carries_the_result_inputs(on_client, fake_bpf):
    form = button(on_client.get("/?example=xdp-filter").get_data(as_text=True))
    assert 'action="/kernel-check" method="post"' in form and 'hx-post="/kernel-check"' in form
    assert '<button type="submit">Check with this kernel</button>' in form and "disabled>" not in form
    fields = check_fields(on_client)
    assert fields["source"] == XDP.source and fields["type"] == "xdp" and fields["csrf_token"]


def test_no_button_for_raw_programs(on_client, fake_bpf):
    assert 'id="kernel-check"' not in on_client.get("/?example=sum").get_data(as_text=True)


# --- without bpf() ------------------------------------------------------------------------------------------

def test_without_bpf_the_button_says_so_and_the_route_explains(on_client, no_bpf):
    form = button(on_client.get("/?example=xdp-filter").get_data(as_text=True))
    assert "<button type=\"button\" disabled>" in form and "may not use bpf()" in form
    token = re.search(r'name="csrf-token" content="([^"]+)"', on_client.get("/").get_data(as_text=True))[1]
    response = on_client.post("/kernel-check", data={"csrf_token": token, "source": XDP.source, "type": "xdp"},
                              headers=HTMX)
    assert response.status_code == 503
    assert "may not use bpf()" in response.get_data(as_text=True)


# --- refused before the kernel is asked ----------------------------------------------------------------------

def test_raw_bytecode_is_refused_with_a_message(on_client, fake_bpf):
    response = post_check(on_client, type="raw")
    assert response.status_code == 400 and "choose a program type" in response.get_data(as_text=True)


def test_a_program_that_does_not_assemble_is_refused(on_client, fake_bpf):
    response = post_check(on_client, source="r0 = nonsense\nexit\n")
    assert response.status_code == 400 and "does not assemble (line 1)" in response.get_data(as_text=True)


def test_map_references_must_name_the_programs_own_maps(on_client, fake_bpf):
    assert map_problem(assemble(XDP.source)) == ""
    assert "refers to map 3" in map_problem(assemble("r1 = map_fd(3) ll\nr0 = 0\nexit\n"))
    html = post_check(on_client, source="r1 = map_fd(3) ll\nr0 = 0\nexit\n").get_data(as_text=True)
    assert "not asked" in html and "only the program&#39;s own maps" in html


def test_htmx_gets_the_fragment_and_a_plain_post_the_page(on_client, fake_bpf):
    source = "r1 = map_fd(3) ll\nr0 = 0\nexit\n"  # refused before the kernel is asked: no bpf() needed
    fragment = post_check(on_client, source=source).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="kernel-check"') and "<html" not in fragment
    page = post_check(on_client, htmx=False, source=source).get_data(as_text=True)
    assert page.startswith("<!doctype html>") and page.count('id="kernel-check"') == 1
    assert page.index('id="verifier-check"') < page.index('<section id="kernel-check"') < page.index('id="verdict"')


def test_maps_too_large_for_the_check_are_not_created(on_client, fake_bpf):
    source = ".map big type=array key_size=4 value_size=4096 max_entries=1000000\nr0 = 0\nexit\n"
    assert "about 3,975 MiB of kernel memory" in map_problem(assemble(source))
    html = post_check(on_client, source=source).get_data(as_text=True)
    assert "not asked" in html and "at most 64 MiB" in html


def test_the_check_needs_the_csrf_token(on_client, fake_bpf):
    fields = {k: v for k, v in check_fields(on_client).items() if k != "csrf_token"}
    assert on_client.post("/kernel-check", data=fields).status_code == 400


# --- the comparison, on made-up answers -------------------------------------------------------------------------

def side(verdict="reject", errno="EACCES", message="R2 !read_ok", insn=3, processed=10, **kw) -> Side:
    return Side(verdict, errno, message, insn, processed, "", 0, 0.001, **kw)


def marked(rows_: tuple[CompareRow, ...]) -> dict[str, tuple[str, str]]:
    return {r.what: (r.ours, r.kernel) for r in rows_ if r.differs}


def test_compare_marks_nothing_when_the_answers_agree():
    assert marked(compare(side(), side(total_states=1, peak_states=1))) == {}


def test_compare_marks_a_different_verdict_message_and_count():
    ours = side("accept", "", "", None, 12)
    theirs = side("reject", "EACCES", "R0 !read_ok", 4, 9)
    assert marked(compare(ours, theirs)) == {
        "verdict": ("accept", "reject"), "errno": ("—", "EACCES"), "first message": ("—", "R0 !read_ok"),
        "processed insns": ("12", "9")}


def test_compare_marks_only_the_message_and_shows_both_counts():
    rows_ = compare(side(message="R1 invalid mem access 'scalar'", processed=1200),
                    side(message="R1 invalid mem access 'map_value_or_null'", processed=1234))
    assert marked(rows_) == {"first message": ("R1 invalid mem access 'scalar'", "R1 invalid mem access 'map_value_or_null'"),
                             "processed insns": ("1,200", "1,234")}


def test_compare_does_not_count_an_incomplete_walk():
    assert marked(compare(side("incomplete", "", "", None, 100_000), side("accept", "", "", None, 250_000))) == {
        "verdict": ("incomplete", "accept")}


KERNEL_LOG = """\
func#0 @0
0: R1=ctx() R10=fp0
0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=pkt(r=0)
9: (18) r1 = 0xffff888104381800       ; R1=map_ptr(map=pg_oracle,ks=4,vs=8)
13: (85) call bpf_map_lookup_elem#1   ; R0=map_value_or_null(id=1,map=pg_oracle,ks=4,vs=8)
14: (15) if r0 == 0x0 goto pc+3       ; R0=map_value(map=pg_oracle,ks=4,vs=8)
from 14 to 18: R0=0 R10=fp0
18: (b7) r1 = 1                       ; R1=1
30: (b7) r0 = 1                       ; R0=1
"""
OUR_LOG = """\
0: R1=ctx() R10=fp0
0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2=pkt(r=0)
9: (18) r1 = map_fd(0)                ; R1=map_ptr(map=proto_count,ks=4,vs=8)
13: (85) call bpf_map_lookup_elem#1   ; R0=map_value_or_null(id=1,map=proto_count,ks=4,vs=8)
14: (15) if r0 == 0x0 goto pc+3       ; R0=map_value(id=1,map=proto_count,ks=4,vs=8)
from 14 to 18: R0=0 R10=fp0
18: (b7) r1 = 1                       ; R1=1
18: (b7) r1 = 1                       ; R1=2
"""


def test_compare_states_masks_map_names_and_lists_the_differences():
    result = compare_states(KERNEL_LOG, OUR_LOG)
    assert (result.compared, result.same, result.differing) == (6, 4, 2)
    assert [(d.insn, d.kernel, d.ours) for d in result.diffs] == [
        (14, "R0=map_value(map=…,ks=4,vs=8)", "R0=map_value(id=1,map=…,ks=4,vs=8)"),
        (30, "R0=1", None),  # our walk never reached insn 30
    ]
    assert compare_states(KERNEL_LOG, OUR_LOG, limit=1).diffs == result.diffs[:1]


def test_compare_states_shows_our_line_at_the_same_visit():
    kernel_log = "5: (07) r1 += 1   ; R1=1\n5: (07) r1 += 1   ; R1=3\n"
    our_log = "5: (07) r1 += 1   ; R1=1\n5: (07) r1 += 1   ; R1=2\n"
    assert [(d.insn, d.kernel, d.ours) for d in compare_states(kernel_log, our_log).diffs] == [(5, "R1=3", "R1=2")]


def test_kernel_addresses_are_masked_and_the_column_kept():
    line = "9: (18) r1 = 0xffff888104381800       ; R1=map_ptr(map=pg_oracle,ks=4,vs=8)"
    assert mask(line, pad=True) == line.replace("0xffff888104381800", KPTR.ljust(18))
    assert mask("ptr 0xffff888104381800") == f"ptr {KPTR}"


def test_the_logs_are_escaped(on_app):
    hostile = "<script>alert(1)</script> if r1 s< r2 goto pc+1"
    ours = Side("reject", "EACCES", "<b>bold</b>", 0, 1, hostile, len(hostile), 0.001)
    theirs = Side("reject", "EACCES", "<b>bold</b>", 0, 1, hostile, 10 * len(hostile), 0.001)
    with on_app.test_request_context():
        from flask import render_template

        html = render_template("playground/_kernel_check.html",
                               kernel=KernelCheck("xdp", "Linux 6.18", ours, theirs, compare(ours, theirs)))
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; if r1 s&lt; r2" in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert f"Only the first {len(hostile)} of its {10 * len(hostile):,} characters are shown." in html


# --- with the kernel ------------------------------------------------------------------------------------------

@pytest.mark.kernel
@needs_bpf
def test_a_rejected_program_has_the_same_verdict_on_both_sides(on_client):
    html = post_check(on_client, source=REJECTED).get_data(as_text=True)
    table = rows(html)
    assert table["verdict"] == ("reject", "reject", False)
    assert table["errno"] == ("EACCES", "EACCES", False)
    assert table["first message"][0] == table["first message"][1] == \
        "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)"
    assert table["at insn"] == ("1", "1", False)
    assert "rejected by Linux " in html and "= the same as ours" in html


@pytest.mark.kernel
@needs_bpf
def test_an_accepted_program_with_a_hash_map_loads_and_shows_the_counts(on_client):
    response = post_check(on_client)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="kernel-check"')  # the fragment only
    table = rows(html)
    assert table["verdict"] == ("accept", "accept", False)
    ours, theirs, differs = table["processed insns"]
    assert int(theirs) > 10 and ours == theirs and not differs
    assert re.search(r"\d+ of the kernel's \d+ state lines are ours too", html)
    assert "map_ptr(map=pg_oracle" in html  # the kernel's log, with the maps made for the check
    assert KPTR in html and not re.search(r"0xffff[0-9a-f]{12}", html)  # no kernel address on the page
    assert "ms (verification " in html


@pytest.mark.kernel
@needs_bpf
def test_without_htmx_the_whole_page_comes_back_with_the_check_in_place(on_client):
    response = post_check(on_client, htmx=False)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.startswith("<!doctype html>")
    assert html.count('id="kernel-check"') == 1 and '<section id="kernel-check"' in html
    assert html.index('id="verifier-check"') < html.index('id="kernel-check"') < html.index('id="walk"')
    assert 'id="editor"' in html


@pytest.mark.kernel
@needs_bpf
def test_the_kernel_log_is_escaped(on_client):
    source = "r1 = 1\nif r1 s< 5 goto +1\nr0 = *(u64 *)(r10 - 8)\nr0 = r3\nexit\n"
    html = post_check(on_client, source=source, type="sched_cls").get_data(as_text=True)
    kernel_pre = re.search(r"The kernel&#39;s log.*?<pre[^>]*>(.*?)</pre>", html, re.DOTALL).group(1)
    assert "if r1 s&lt; 0x5 goto pc+1" in kernel_pre and "s< " not in kernel_pre


@pytest.mark.kernel
@needs_bpf
def test_a_map_the_kernel_refuses_is_named(on_client):
    source = ".map events type=ringbuf key_size=0 value_size=0 max_entries=100\nr0 = 0\nexit\n"
    html = post_check(on_client, source=source).get_data(as_text=True)
    assert "not asked" in html and "The kernel refused to create map events (ringbuf): EINVAL" in html



@pytest.mark.kernel
@needs_bpf
def test_a_c_program_is_compiled_and_checked(on_client):
    from app.ebpf.cc import compiler_available

    if not compiler_available()[0]:
        pytest.skip("no C compiler here")
    html = post_check(on_client, source=BY_SLUG["c-xdp-count"].source, language="c").get_data(as_text=True)
    table = rows(html)
    assert table["verdict"] == ("accept", "accept", False)
    assert "accepted by Linux " in html
