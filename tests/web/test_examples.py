"""Every example of the menu runs to the result it promises, on the page and through the same code path."""
from __future__ import annotations

import html as html_lib
import re

import pytest

from app.ebpf.cc import compiler_available
from app.web.examples import EXAMPLES, MENU
from app.web.inputs import Limits
from app.web.runs import check, execute

from .conftest import HTMX
from .formfields import form_data

LIMITS = Limits(64 * 1024, 64 * 1024, 1_000_000)


def outcome_of(example):
    form = example.form(LIMITS)
    request, errors = check(form, LIMITS)
    assert not errors, errors
    outcome = execute(request, form)
    assert outcome.asm_error is None, outcome.asm_error
    return outcome


def matches(result, expected) -> bool:
    if isinstance(expected, int):
        return result.fault is None and result.retval == expected
    if expected.startswith("fault:"):
        return result.fault is not None and result.fault.kind == expected[6:]
    return result.fault is None and result.retval_name == expected


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_every_example_gives_its_expected_result(example):
    outcome = outcome_of(example)
    assert len(outcome.results) == len(example.expect)
    for n, (result, expected) in enumerate(zip(outcome.results, example.expect)):
        assert matches(result, expected), f"run {n}: {result.retval_name or result.retval} {result.fault}"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.slug)
def test_every_example_page_shows_its_verdicts(client, example):
    response = client.get(f"/?example={example.slug}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    first = example.expect[0]
    if isinstance(first, int):
        assert f'<code class="retval">0x{first:x}</code>' in html
    elif first.startswith("fault:"):
        assert "is-fault" in html
    else:
        assert f'<span class="retval-name">{first}</span>' in html
    if len(example.expect) > 1:
        verdicts = re.findall(r'<span class="verdict-name[^"]*">([^<]*)</span>', html)
        assert verdicts == [str(e) if not isinstance(e, int) else f"0x{e:x}" for e in example.expect]
    assert f'<option value="{example.slug}" selected>' in html
    assert f'<option value="{example.type}" selected>' in html  # the hook picker follows the example


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.type != "raw" and not e.rejects], ids=lambda e: e.slug)
def test_every_hook_example_passes_our_verifier_and_the_page_says_so(client, example):
    """The kernel loads every hook example (test_examples_kernel.py); ours must agree, on the page too."""
    html = client.get(f"/?example={example.slug}").get_data(as_text=True)
    assert 'id="verifier-check" class="verdict check is-accept"' in html
    assert f"accepted as {example.type}" in html and "is-rejected" not in html


def test_every_hook_has_an_example_the_verifier_accepts():
    from app.ebpf.progtypes import PROG_TYPES

    covered = {e.type for e in EXAMPLES if not e.rejects}
    assert covered == {"raw", *PROG_TYPES}


REJECTED = [e for e in EXAMPLES if e.rejects]


def test_some_examples_show_a_rejection():
    assert {e.slug for e in REJECTED} >= {"rejected-packet-bounds", "rejected-null-check"}


@pytest.mark.parametrize("example", REJECTED, ids=lambda e: e.slug)
def test_a_rejected_example_opens_at_the_rejection_with_its_explanation(client, example):
    """Ours and the kernel's verifier refuse it with ``rejects`` (test_examples_kernel.py); the page says so,
    explains it, marks the line, and the walk opens at the rejection."""
    from app.ebpf import assemble
    from app.ebpf.verifier import verify
    from app.ebpf.verifier.explain import explain

    result = verify(assemble(example.source), example.type)
    assert result.verdict == "reject" and result.error.message == example.rejects
    html = client.get(f"/?example={example.slug}").get_data(as_text=True)
    assert 'id="verifier-check" class="verdict check is-reject"' in html
    text = html_lib.unescape(html)
    assert f"<code>{example.rejects}</code>" in text
    entry = explain(example.rejects)
    assert entry is not None and f"<summary>{entry.entry.title}</summary>" in text
    walk = re.search(r'<section id="walk"[^>]*data-index="(\d+)"[^>]*data-total="(\d+)"', html)
    assert walk and int(walk.group(1)) == int(walk.group(2)) - 1  # the last event: the rejection
    assert re.search(rf'<tr id="walk-insn-{result.error.insn_idx}" class="[^"]*is-current[^"]*is-rejected', html)
    assert "Rejected:" in example.title and "# The fix" in example.source


def test_examples_show_what_they_are_about(client):
    tc = client.get("/?example=tc-rewrite").get_data(as_text=True)
    assert "output packet: 4 bytes changed" in tc and "port 40000 → 5353, length 13" in tc
    kprobe = html_lib.unescape(client.get("/?example=kprobe-args").get_data(as_text=True))
    assert "bpf_trace_printk: dfd=-100 name=7ffd5e1c2a40" in kprobe
    ring = client.get("/?example=xdp-ringbuf").get_data(as_text=True)
    assert "1 records, oldest first" in ring and "events: 8-byte record" in ring
    deny = client.get("/?example=cgroup-deny").get_data(as_text=True)
    assert 'value="denied_ports"' in deny and 'id="seeds-panel" class="panel" open' in deny
    percpu = client.get("/?example=raw-tracepoint").get_data(as_text=True)
    assert "<th scope=\"col\">cpu0</th><th scope=\"col\">cpu1</th>" in percpu
    connect = client.get("/?example=connect4-port").get_data(as_text=True)
    assert 'id="ctx_user_ip4" name="ctx_user_ip4" value="10.0.0.2"' in connect


def setup_of(html: str) -> str:
    return re.search(r'<section id="result"[^>]*data-setup="([^"]*)"', html).group(1)


@pytest.mark.parametrize("example", MENU, ids=lambda e: e.slug)
def test_running_an_example_unchanged_keeps_its_setup_and_a_changed_input_does_not(client, example):
    """The page's script keeps ``?example=`` in the address while the result on screen has the setup the page
    opened with (``urlstate.js``): a run from the editor with nothing changed must give the same setup, and a
    run with another input another one."""
    if example.language == "c" and not compiler_available()[0]:
        pytest.skip("no C compiler here")
    page = client.get(f"/?example={example.slug}&step=1").get_data(as_text=True)
    opened = setup_of(page)
    assert opened
    fields = form_data(page, "editor")
    assert setup_of(client.post("/run", data=fields, headers=HTMX).get_data(as_text=True)) == opened
    fields["env_cpu"] = "3" if fields.get("env_cpu") != "3" else "2"  # every hook has an environment
    assert setup_of(client.post("/run", data=fields, headers=HTMX).get_data(as_text=True)) != opened
