"""C through the JSON API: ``"language": "c"`` compiles the source as the page does, for the hook ``type``."""
from __future__ import annotations

import pytest

from app.ebpf.cc import compiler_available
from app.web.examples import BY_SLUG

needs_cc = pytest.mark.skipif(not compiler_available()[0], reason="no C compiler here")
XDP_C = BY_SLUG["c-xdp-count"].source


@needs_cc
def test_assemble_compiles_c_and_gives_each_instruction_its_c_line(client):
    body = client.post("/api/v1/assemble", json={"source": XDP_C, "language": "c", "type": "xdp"}).get_json()
    assert body["bytecode"] and body["insns"]
    lines = [i["line"] for i in body["insns"] if i["line"]]
    assert lines and all(1 <= n <= XDP_C.count("\n") + 1 for n in lines)


@needs_cc
def test_run_and_verify_take_c(client):
    run = client.post("/api/v1/run", json={"source": XDP_C, "language": "c", "type": "xdp",
                                           "input": {"packet_spec": "eth/ipv4/udp"}}).get_json()
    assert run["retval_name"] == "XDP_PASS"
    verified = client.post("/api/v1/verify", json={"source": XDP_C, "language": "c", "type": "xdp"}).get_json()
    assert verified["accepted"] is True


@needs_cc
def test_a_compile_error_names_its_line(client):
    response = client.post("/api/v1/run", json={"source": "int f(void) {\n  return x;\n}\n", "language": "c",
                                                "type": "xdp"})
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["field"] == "source" and error["message"].startswith("line 2, col")


@needs_cc
def test_a_shared_c_setup_runs_as_it_is(client):
    share = client.post("/api/v1/share", json={"source": XDP_C, "language": "c", "type": "xdp",
                                               "input": {"packet_spec": "eth/ipv4/udp"}}).get_json()
    setup = client.get(f"/p/{share['id']}.json").get_json()
    assert setup["language"] == "c"
    assert client.post("/api/v1/run", json=setup).get_json()["retval_name"] == "XDP_PASS"


def test_languages_are_checked(client):
    response = client.post("/api/v1/run", json={"source": "exit", "language": "rust", "type": "xdp"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "language"
    response = client.post("/api/v1/run", json={"bytecode": "9500000000000000", "language": "c", "type": "xdp"})
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "language"


@needs_cc
def test_a_c_share_downloads_as_c_and_its_markdown_says_c(client):
    share = client.post("/api/v1/share", json={"source": XDP_C, "language": "c", "type": "xdp"}).get_json()
    response = client.get(f"/p/{share['id']}.c?download")
    assert response.get_data(as_text=True) == XDP_C
    assert response.headers["Content-Disposition"] == f'attachment; filename="{share["id"]}.c"'
    page = client.get(f"/p/{share['id']}").get_data(as_text=True)
    assert f"/p/{share['id']}.c" in page and "```c\n" in page
