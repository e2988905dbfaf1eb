"""The OpenAPI document describes every admin route, its parameters and its scope."""

from __future__ import annotations

import re

from gateway.http import admin
from gateway.http.admin import MESSAGE_PARAMS, AdminDeps, admin_app
from gateway.http.auth import scope_of
from gateway.http.openapi import document
from tests.support.pipeline import make_settings


def _routes() -> set[tuple[str, str, object]]:
    settings = make_settings("sqlite+aiosqlite://", "memory://")
    app = admin_app(AdminDeps(settings, None, None))  # type: ignore[arg-type]
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        path = admin.PREFIX + route.resource.canonical  # type: ignore[union-attr]
        found.add((path, route.method.lower(), route.handler))
    return found


def test_every_route_is_documented_with_its_scope_and_responses() -> None:
    spec = document()
    documented = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    routes = _routes()
    assert {(path, method) for path, method, _ in routes} == documented
    for path, method, handler in routes:
        operation = spec["paths"][path][method]
        assert "responses" in operation
        assert operation["summary"]
        if path.endswith("openapi.json"):
            assert operation["security"] == []
            continue
        assert operation["x-botgate-scope"] == scope_of(handler, method.upper()), path
        assert {"401", "403"} <= set(operation["responses"]), path
        for name in re.findall(r"\{(\w+)\}", path):
            assert name in [p["name"] for p in operation["parameters"] if p["in"] == "path"]


def test_the_message_listing_documents_each_parameter_it_takes() -> None:
    operation = document()["paths"]["/api/v1/messages"]["get"]
    assert [p["name"] for p in operation["parameters"]] == list(MESSAGE_PARAMS)
    refs = {"#/components/schemas/Action", "#/components/schemas/Message"}
    text = str(document())
    assert all(ref in text for ref in refs)
    assert "Action" in document()["components"]["schemas"]
