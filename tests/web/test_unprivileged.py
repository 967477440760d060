"""The unprivileged loader everywhere on the web: ``options.unprivileged`` of ``/api/v1/verify``, ``/run`` and
``/share`` (and the stored setup), the playground's "Unprivileged loader" checkbox (kept in the form, in
shares, in the verdict's words), the walk's speculative paths, and the kernel check loading as the same
loader (or saying plainly why it cannot)."""
from __future__ import annotations

import html as html_lib
import re

import pytest

import app.oracle
from app import create_app, oracle_unprivileged
from app.ebpf import assemble
from app.ebpf.verifier import verify
from app.oracle import KernelVerdict

from .conftest import HTMX
from .test_api import error_of
from .test_share import shared_id

SPECULATIVE = "r1 = 5\nif r1 > 3 goto +1\nr0 = 1\nr0 = 0\nexit\n"
"""The jump's outcome is known (5 > 3), so root's walk sees one path (4 processed); an unprivileged loader's
walk also checks the side a mispredicting CPU could take (7 processed)."""
LEAK = "r0 = r10\nexit\n"
"""Returns a stack pointer: root may, a user without capabilities may not (``R0 leaks addr``)."""


# --- the API ----------------------------------------------------------------------------------------------

def test_verify_checks_for_the_loader_asked_for(client):
    root = client.post("/api/v1/verify", json={"source": SPECULATIVE, "type": "socket_filter"}).get_json()
    user = client.post("/api/v1/verify", json={"source": SPECULATIVE, "type": "socket_filter",
                                               "options": {"unprivileged": True}}).get_json()
    assert root["stats"]["processed_insns"] == 4 and user["stats"]["processed_insns"] == 7
    assert user == verify(assemble(SPECULATIVE), "socket_filter", privileged=False).to_json()
    explicit = client.post("/api/v1/verify", json={"source": SPECULATIVE, "type": "socket_filter",
                                                   "options": {"unprivileged": False}}).get_json()
    assert explicit == root


def test_verify_reports_what_only_root_may_load(client):
    body = client.post("/api/v1/verify", json={"source": LEAK, "type": "socket_filter",
                                               "options": {"unprivileged": True}}).get_json()
    assert body["verdict"] == "reject" and body["error"]["message"] == "R0 leaks addr as return value"
    xdp = client.post("/api/v1/verify", json={"source": "r0 = 2\nexit\n", "type": "xdp",
                                              "options": {"unprivileged": True}}).get_json()
    assert xdp["error"]["errno"] == "EPERM" and "may load only socket_filter and cgroup_skb" in xdp["error"]["message"]


@pytest.mark.parametrize("endpoint", ["verify", "run", "share"])
@pytest.mark.parametrize("value", ["yes", 1, None, {"on": True}])
def test_a_wrong_type_is_a_400_naming_the_option(client, endpoint, value):
    body = {"source": "r0 = 0\nexit\n", "type": "socket_filter", "options": {"unprivileged": value}}
    error = error_of(client.post(f"/api/v1/{endpoint}", json=body), 400)
    assert error["field"] == "options.unprivileged" and "true" in error["message"]


def test_raw_programs_have_no_loader(client):
    error = error_of(client.post("/api/v1/run", json={"source": "r0 = 0\nexit\n", "options": {"unprivileged": True}}),
                     400)
    assert error["field"] == "options.unprivileged" and "raw programs" in error["message"]


def test_run_refuses_what_the_unprivileged_loader_refuses(client):
    body = {"source": LEAK, "type": "socket_filter", "input": {"packet_spec": "eth/ipv4/udp"}}
    assert client.post("/api/v1/run", json=body).status_code == 200  # root's run verifies nothing
    error = error_of(client.post("/api/v1/run", json={**body, "options": {"unprivileged": True}}), 422)
    assert error["field"] == "source"
    assert error["message"] == ("not run: the verifier rejects it for an unprivileged loader at insn 1: "
                                "R0 leaks addr as return value (EACCES)")
    assert error["verifier"] == {"accepted": False, "verdict": "reject",
                                 "error": {"insn": 1, "message": "R0 leaks addr as return value", "errno": "EACCES"}}
    hook = error_of(client.post("/api/v1/run", json={"source": "r0 = 2\nexit\n", "type": "xdp",
                                                     "input": {"packet_spec": "eth/ipv4/udp"},
                                                     "options": {"unprivileged": True}}), 422)
    assert hook["verifier"]["error"]["errno"] == "EPERM" and hook["verifier"]["error"]["insn"] is None


def test_run_as_an_unprivileged_loader_says_it_was_verified(client):
    body = {"source": SPECULATIVE, "type": "socket_filter", "input": {"packet_spec": "eth/ipv4/udp"},
            "options": {"unprivileged": True}}
    answer = client.post("/api/v1/run", json=body).get_json()
    assert answer["retval"] == 0 and answer["verifier"] == {"accepted": True, "verdict": "accept", "error": None}
    plain = client.post("/api/v1/run", json={**body, "options": {}}).get_json()
    assert "verifier" not in plain and plain["retval"] == 0


def test_the_stored_setup_keeps_the_option_only_when_true(client):
    base = {"source": SPECULATIVE, "type": "socket_filter"}
    plain = client.post("/api/v1/share", json=base).get_json()["id"]
    same = client.post("/api/v1/share", json={**base, "options": {"unprivileged": False}})
    assert same.status_code == 200 and same.get_json()["id"] == plain  # existing ids are unchanged
    assert "options" not in client.get(f"/p/{plain}.json").get_json()
    user = client.post("/api/v1/share", json={**base, "options": {"unprivileged": True}}).get_json()["id"]
    assert user != plain
    setup = client.get(f"/p/{user}.json").get_json()
    assert setup["options"] == {"unprivileged": True}
    assert client.post("/api/v1/verify", json=setup).get_json()["stats"]["processed_insns"] == 7  # runs as stored


def test_the_openapi_document_describes_the_option(client):
    options = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Options"]
    assert options["properties"]["unprivileged"]["type"] == "boolean"
    assert options["properties"]["unprivileged"]["default"] is False


# --- the playground page ------------------------------------------------------------------------------------

def test_the_checkbox_is_labelled_and_unticked_by_default(client):
    html = client.get("/").get_data(as_text=True)
    box = re.search(r'<input type="checkbox" id="unprivileged" name="unprivileged"[^>]*>', html)
    assert box and "checked" not in box.group(0)
    assert re.search(r'<label for="unprivileged"[^>]*>Unprivileged loader <span class="hint">\(no CAP_BPF, '
                     r'CAP_PERFMON, CAP_SYS_ADMIN\)</span></label>', html)


def test_a_ticked_box_stays_ticked_and_the_verdict_names_the_loader(post_form):
    html = post_form("/run", source=SPECULATIVE, type="socket_filter", unprivileged="on").get_data(as_text=True)
    assert re.search(r'id="unprivileged" name="unprivileged" checked', html)
    assert "accepted as socket_filter for an unprivileged loader" in html
    assert '<input type="hidden" name="unprivileged" value="on">' in html  # the step and walk forms carry it
    root = post_form("/run", source=SPECULATIVE, type="socket_filter").get_data(as_text=True)
    assert "accepted as socket_filter</h2>" in root and 'name="unprivileged" value="on"' not in root


def test_another_hook_is_refused_for_an_unprivileged_user_in_plain_words(post_form):
    response = post_form("/run", source="r0 = 2\nexit\n", type="xdp", unprivileged="on",
                         l3="ipv4", l4="udp")
    assert response.status_code == 200
    html = html_lib.unescape(response.get_data(as_text=True))
    assert "rejected for an unprivileged loader" in html
    assert ("The kernel refuses to load a xdp program for an unprivileged user: without CAP_BPF (or CAP_SYS_ADMIN) "
            "only socket_filter and cgroup_skb programs may be loaded") in html
    assert "A program type unprivileged users may not load" in html  # the catalogue's explanation
    assert "XDP_PASS" in html  # the run still shows what the instructions do


def test_a_bad_checkbox_value_or_a_raw_program_names_the_field(post_form):
    bad = post_form("/run", source="r0 = 0\nexit\n", type="socket_filter", unprivileged="yes", htmx=True)
    assert bad.status_code == 422
    assert re.search(r'id="unprivileged-error"[^>]*>[^<]*a checkbox', bad.get_data(as_text=True))
    walk = post_form("/walk", source="r0 = 0\nexit\n", type="socket_filter", unprivileged="1", walk="0", htmx=True)
    assert walk.status_code == 422 and "a checkbox" in walk.get_data(as_text=True)
    raw = post_form("/run", source="r0 = 0\nexit\n", type="raw", unprivileged="on")
    assert raw.status_code == 422 and "raw programs are loaded by no hook" in raw.get_data(as_text=True)


def test_the_checkbox_round_trips_through_a_share(client, post_form):
    id_ = shared_id(post_form("/share", source=SPECULATIVE, type="socket_filter", unprivileged="on",
                              l3="ipv4", l4="udp"))
    assert client.get(f"/p/{id_}.json").get_json()["options"] == {"max_insns": 1000, "unprivileged": True}
    page = client.get(f"/p/{id_}").get_data(as_text=True)
    assert re.search(r'id="unprivileged" name="unprivileged" checked', page)
    assert "accepted as socket_filter for an unprivileged loader" in page
    plain = shared_id(post_form("/share", source=SPECULATIVE, type="socket_filter", l3="ipv4", l4="udp"))
    assert plain != id_ and client.get(f"/p/{plain}.json").get_json()["options"] == {"max_insns": 1000}


def test_the_walk_labels_a_speculative_path(post_form):
    walk = post_form("/walk", htmx=True, source=SPECULATIVE, type="socket_filter", unprivileged="on",
                     walk="2").get_data(as_text=True)
    assert 'class="walk-event is-push_branch is-speculative"' in walk
    assert '<span class="badge speculative"' in walk
    assert ("The jump at insn 1 can only go one way here, but a mispredicting CPU could take the other side, so "
            "the kernel checks it too") in walk
    assert "fenced with a speculation barrier rather than rejected" in walk
    assert re.search(r'<ol class="walk-pending".*?insn 2 <span class="badge speculative".*?the jump at insn 1',
                     walk, re.S)
    visit = post_form("/walk", htmx=True, source=SPECULATIVE, type="socket_filter", unprivileged="on",
                      walk="6").get_data(as_text=True)
    assert "Checked insn 2 on a speculative path." in visit
    root = post_form("/walk", htmx=True, source=SPECULATIVE, type="socket_filter", walk="2").get_data(as_text=True)
    assert "speculative" not in root


def test_a_fenced_fault_says_so_in_the_walk(post_form):
    # r2 is 0 on the real path; the speculative side reads through it: fenced, not rejected
    source = "r2 = 0\nr1 = 5\nif r1 > 3 goto +1\nr0 = *(u8 *)(r2 + 0)\nr0 = 0\nexit\n"
    result = verify(assemble(source), "socket_filter", privileged=False)
    nospec = next(e.seq for e in result.walk if e.kind == "nospec")
    walk = post_form("/walk", htmx=True, source=source, type="socket_filter", unprivileged="on",
                     walk=str(nospec)).get_data(as_text=True)
    assert "is-nospec" in walk and "speculation barrier" in walk


# --- the kernel check ---------------------------------------------------------------------------------------

@pytest.fixture
def on_client(tmp_path, monkeypatch):
    monkeypatch.setattr(app.oracle, "bpf_available", lambda: True)
    flask_app = create_app({"TESTING": True, "SECRET_KEY": "test", "KERNEL_CHECK": True,
                            "DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}"})
    return flask_app.test_client()


def _kernel_check(client, **fields):
    html = client.get("/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)
    return client.post("/kernel-check", data={"csrf_token": token, "max_insns": "1000", **fields}, headers=HTMX)


def test_the_kernel_check_says_why_it_cannot_ask_for_an_unprivileged_loader(on_client, monkeypatch):
    monkeypatch.setattr(oracle_unprivileged, "unprivileged_bpf_setting", lambda: "2")
    asked = []
    monkeypatch.setattr(oracle_unprivileged, "verify_unprivileged", lambda *a, **k: asked.append(a))
    response = _kernel_check(on_client, source=LEAK, type="socket_filter", unprivileged="on")
    html = html_lib.unescape(response.get_data(as_text=True))
    assert response.status_code == 200 and not asked
    assert "not asked" in html and "for an unprivileged loader" in html
    assert "kernel.unprivileged_bpf_disabled is 2, so users without capabilities may not call bpf() at all" in html
    assert "untick Unprivileged loader to compare a root load" in html


def test_the_kernel_check_loads_as_the_same_loader(on_client, monkeypatch):
    """With the sysctl at 0 the load goes to ``verify_unprivileged`` (user nobody); ours walks unprivileged
    too, so the two answers are compared as the same loader's."""
    monkeypatch.setattr(oracle_unprivileged, "unprivileged_bpf_setting", lambda: "0")
    monkeypatch.setattr(app.oracle, "verify_in_kernel", lambda *a, **k: pytest.fail("loaded as root"))
    monkeypatch.setattr("app.kernelload.create_maps", lambda program, stack: [])
    asked = []

    def as_nobody(code, prog_type, **kwargs):
        asked.append((prog_type, kwargs.get("log_level")))
        return KernelVerdict(False, 13, "R0 leaks addr as return value\nprocessed 2 insns (limit 1000000) "
                                        "max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n",
                             2, "R0 leaks addr as return value")

    monkeypatch.setattr(oracle_unprivileged, "verify_unprivileged", as_nobody)
    html = html_lib.unescape(_kernel_check(on_client, source=LEAK, type="socket_filter",
                                           unprivileged="on").get_data(as_text=True))
    assert asked and all(prog_type == "socket_filter" for prog_type, _ in asked)
    assert "by user nobody, without CAP_BPF, CAP_PERFMON or CAP_SYS_ADMIN" in html
    assert "= the same as ours" in html  # ours rejects it too, for the same loader


@pytest.mark.kernel
@pytest.mark.skipif(not app.oracle.bpf_available(), reason="bpf() is not permitted here")
def test_the_real_kernel_check_is_honest_about_the_loader(tmp_path):
    flask_app = create_app({"TESTING": True, "SECRET_KEY": "test", "KERNEL_CHECK": True,
                            "DATABASE_URL": f"sqlite:///{tmp_path / 's.sqlite3'}"})
    html = html_lib.unescape(_kernel_check(flask_app.test_client(), source=LEAK, type="socket_filter",
                                           unprivileged="on").get_data(as_text=True))
    if oracle_unprivileged.unprivileged_bpf_allowed():
        assert "by user nobody" in html and "= the same as ours" in html
    else:
        assert "not asked" in html and "users without capabilities may not call bpf() at all" in html
