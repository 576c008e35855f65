"""/openapi.json is complete and valid: every write route has its request body, every operation its error
responses with the envelope, authenticated ones the bearer scheme; /docs and /redoc use the gateway's own files."""

from __future__ import annotations

from openapi_spec_validator import validate

from gateway.openapi import BODIES
from tests.conftest import GatewayHarness

WRITES = ("post", "put", "patch")


async def openapi(gw: GatewayHarness) -> dict:
    r = await gw.client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


async def test_the_schema_passes_the_openapi_validator(gw: GatewayHarness) -> None:
    doc = await openapi(gw)
    validate(doc)
    assert doc["openapi"].startswith("3.")


async def test_every_write_route_documents_its_request_body(gw: GatewayHarness) -> None:
    doc = await openapi(gw)
    writes = [(m, p) for p, ops in doc["paths"].items() for m in ops if m in WRITES]
    assert len(writes) >= len(BODIES)
    missing = [(m, p) for m, p in writes if "requestBody" not in doc["paths"][p][m]]
    assert missing == []
    synth = doc["paths"]["/voice/synthesize"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    model = doc["components"]["schemas"][synth["$ref"].rsplit("/", 1)[1]]
    assert "text" in model["required"] and model["properties"]["text"]["type"] == "string"
    for ref in (r for r in _refs(doc) if r.startswith("#/components/schemas/")):
        assert ref.rsplit("/", 1)[1] in doc["components"]["schemas"], ref


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


async def test_errors_have_the_envelope_and_routes_the_bearer_scheme(gw: GatewayHarness) -> None:
    doc = await openapi(gw)
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert doc["components"]["schemas"]["Error"]["required"] == ["error"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "500" in op["responses"], (method, path)
            if path.startswith("/webhooks/"):  # signed by the vendor, not bearer-authenticated
                assert "security" not in op and "401" in op["responses"], (method, path)
            elif path != "/health":
                assert op["security"] == [{"bearerAuth": []}], (method, path)
                shape = "OpenAIError" if path.startswith("/v1/") else "Error"
                assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
                    "$ref": f"#/components/schemas/{shape}"
                }
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    assert "/admin/logs" in doc["paths"] and "/v1/{path}" not in doc["paths"]


async def test_a_documented_error_is_what_the_route_returns(gw: GatewayHarness) -> None:
    r = await gw.client.post("/voice/synthesize", json={"text": 5}, headers=gw.auth())
    assert r.status_code == 422
    assert set(r.json()["error"]) >= set(
        (await openapi(gw))["components"]["schemas"]["Error"]["properties"]["error"]["required"]
    )


async def test_docs_pages_load_their_scripts_from_the_gateway(gw: GatewayHarness) -> None:
    for page, script in (("/docs", "/docs-assets/swagger-ui/swagger-ui-bundle.js"),
                         ("/redoc", "/docs-assets/redoc/redoc.standalone.js")):  # fmt: skip
        html = (await gw.client.get(page)).text
        assert f'src="{script}"' in html
        assert (
            "cdn." not in html
            and "googleapis" not in html
            and "https://" not in html.replace("https://fastapi.tiangolo.com", "")
        )


async def test_schemathesis_generates_a_body_for_every_write_route_and_none_breaks_the_app(gw: GatewayHarness) -> None:
    """The Done-when of the docs: a schema-driven fuzzer finds what to send to each write route from the schema
    alone, and what it sends gets an answer (2xx or a 4xx/5xx envelope), never an internal error."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, find, settings
    from schemathesis.core import NotSet

    schema = schemathesis.openapi.from_dict(await openapi(gw))
    budget = settings(max_examples=20, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.method.lower() not in WRITES:
            continue
        case = find(operation.as_strategy(), lambda c: not isinstance(c.body, NotSet), settings=budget)
        if case.media_type != "application/json":
            continue  # audio or multipart: generated (not NotSet), not sent (random bytes are not audio)
        path = operation.path.format(**{k: gw.workspace_id if k == "workspace_id" else "openai"
                                        for k in (case.path_parameters or {})})  # fmt: skip
        headers = gw.admin if path.startswith("/admin") else gw.auth()
        r = await gw.client.request(operation.method.upper(), path, json=case.body, headers=headers)
        assert r.status_code != 500, (path, r.text)
        if r.status_code >= 400:  # the documented envelope: ours, or OpenAI's on /v1
            assert r.json()["error"]["message"] and ("request_id" in r.json()["error"] or path.startswith("/v1/"))
        sent += 1
    assert sent >= 10
