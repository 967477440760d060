"""The OpenAPI document describes the API the server really has: its routes and the fields it accepts."""
from __future__ import annotations

import re

from app.ebpf.progtypes import PROG_TYPES
from app.web.jsonbody import INPUT_FIELDS, SETUP_FIELDS


def test_the_document_lists_every_api_route(app, client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or rule.rule == "/api/v1/openapi.json":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # Flask's <slug> is OpenAPI's {slug}
        assert path in doc["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], (path, method)


def test_the_schemas_are_the_fields_the_server_accepts(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert set(schemas["Setup"]["properties"]) == set(SETUP_FIELDS)
    assert set(schemas["Input"]["properties"]) == set(INPUT_FIELDS)
    assert set(PROG_TYPES) < set(schemas["Setup"]["properties"]["type"]["enum"])
    assert schemas["Setup"]["additionalProperties"] is False  # unknown fields are refused, as the server does
    assert all(schema for schema in schemas["Setup"]["properties"].values())  # every field has a shape


def test_a_body_built_from_the_schema_is_accepted(client):
    """The setup schema's field names are the server's: a body using each of them is taken by /run."""
    body = {"source": "r0 = 2\nexit", "language": "asm", "type": "xdp", "maps": [], "input": {"packet_spec": "eth"},
            "env": {"pid": 7}, "seeds": [], "options": {"max_insns": 100}, "view": {"step": 1}}
    assert set(body) <= set(SETUP_FIELDS) - {"bytecode"}
    assert client.post("/api/v1/run", json=body).get_json()["retval_name"] == "XDP_PASS"
