"""The OpenAPI document, completed: the routes parse their bodies by hand (one error shape, bounded reads), so
FastAPI cannot see them. Here each write route gets its request body (the same pydantic model it validates with),
every operation its error responses (the envelope) and the bearer scheme. A test holds every write route to it.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

# (method, path) → "module:Model" the route validates with, or a ready request body object.
AUDIO_BODY = {
    "required": True,
    "description": "The raw audio bytes (WAV, MP3, OGG/Opus, FLAC, WebM, …); Content-Type names the format.",
    "content": {
        t: {"schema": {"type": "string", "format": "binary"}}
        for t in ("audio/wav", "audio/mpeg", "audio/ogg", "audio/flac", "audio/webm", "application/octet-stream")
    },
}
MULTIPART_TRANSCRIPTION = {
    "required": True,
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary", "description": "the audio file"},
            "model": {"type": "string", "maxLength": 200},
            "language": {"type": "string", "maxLength": 35},
            "response_format": {"type": "string", "enum": ["json", "text", "verbose_json"]},
            "provider": {"type": "string", "description": "gateway extension: pin a vendor"},
        },
    }}},
}  # fmt: skip
BODIES: dict[tuple[str, str], str | dict[str, Any]] = {
    ("post", "/admin/workspaces"): "gateway.api.admin:CreateWorkspace",
    ("patch", "/admin/workspaces/{workspace_id}"): "gateway.api.admin:UpdateWorkspace",
    ("post", "/admin/workspaces/{workspace_id}/keys"): "gateway.api.admin:CreateKey",
    ("put", "/admin/workspaces/{workspace_id}/providers/{provider}"): "gateway.api.admin:WorkspaceProvider",
    ("put", "/admin/workspaces/{workspace_id}/strategy"): "gateway.api.admin:Strategy",
    ("put", "/admin/platform/providers/{provider}"): "gateway.api.admin:PlatformProvider",
    ("put", "/admin/platform/settings"): "gateway.api.admin:PlatformSettings",
    ("post", "/voice/synthesize"): "gateway.api.voice:SynthesizeBody",
    ("post", "/voice/stream"): "gateway.api.stream:StreamBody",
    ("post", "/voice/transcribe"): AUDIO_BODY,
    ("post", "/llm/generate"): "gateway.api.llm:GenerateBody",
    ("post", "/llm/generate-script"): "gateway.api.llm:ScriptBody",
    ("post", "/v1/audio/speech"): "gateway.api.openai_compat:SpeechBody",
    ("post", "/v1/audio/transcriptions"): MULTIPART_TRANSCRIPTION,
    ("post", "/v1/chat/completions"): "gateway.api.openai_compat:ChatBody",
    ("put", "/admin/workspaces/{workspace_id}/cache"): "gateway.api.speech_cache:CachePolicyBody",
    ("put", "/admin/workspaces/{workspace_id}/agents/{name}"): "gateway.api.calls:PutAgent",
    ("post", "/voice/calls"): "gateway.api.calls:CreateCall",
    ("post", "/webhooks/{vendor}"): {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "the vendor's own event (a Vapi server message, a Retell webhook), authenticated by its "
                    "signature or secret header, not by a gateway key",
                }
            }
        },
    },
}
OPTIONAL_BODIES = frozenset({("post", "/admin/workspaces/{workspace_id}/keys")})
# Query parameters read by hand (documented so "Try it out" can send them).
QUERY: dict[tuple[str, str], list[tuple[str, dict[str, Any], str]]] = {
    ("post", "/voice/transcribe"): [
        ("language", {"type": "string", "maxLength": 35}, "BCP-47 language of the audio"),
        ("provider", {"type": "string"}, "pin a vendor"),
        ("model", {"type": "string"}, "a vendor model"),
        ("punctuate", {"type": "boolean", "default": True}, "add punctuation"),
        ("diarize", {"type": "boolean", "default": False}, "label speakers"),
    ],
}

ERROR_ENVELOPE = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["type", "message", "request_id"],
        "properties": {
            "type": {"type": "string", "description": "machine-readable class",
                     "examples": ["invalid_request", "unauthorized", "rate_limited", "upstream_error"]},
            "message": {"type": "string"},
            "request_id": {"type": "string", "description": "also in the X-Request-Id header"},
            "attempts": {"type": "array", "description": "each vendor tried, when every vendor failed",
                         "items": {"type": "object", "properties": {
                             "provider": {"type": "string"}, "error": {"type": "string"},
                             "message": {"type": "string"}, "status": {"type": "integer"}}}},
            "param": {"type": ["string", "null"], "description": "OpenAI-compatible routes: the offending field"},
        },
    }},
}  # fmt: skip
OPENAI_ERROR = {
    "type": "object",
    "required": ["error"],
    "description": "OpenAI's error shape (the /v1 routes answer like OpenAI, so its SDKs understand them)",
    "properties": {"error": {
        "type": "object", "required": ["message", "type"],
        "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                       "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}},
    }},
}  # fmt: skip
ERRORS = {
    "400": "Invalid request (bad JSON, bad parameter, every vendor rejected the input)",
    "401": "Missing or unknown bearer token",
    "403": "The token may not do this (admin-only route, suspended workspace, another workspace)",
    "404": "Not found",
    "413": "Body too large",
    "415": "Unsupported media type",
    "422": "The body failed validation (each field named)",
    "429": "Rate limit or quota reached (Retry-After)",
    "500": "Internal error",
    "502": "Every vendor failed (attempts listed)",
    "503": "No vendor can serve this request",
    "504": "Every vendor timed out",
}
PUBLIC = frozenset({("get", "/health"), ("post", "/webhooks/{vendor}")})  # webhooks: the vendor signs them
VENDOR_PREFIXES = ("/voice/", "/llm/", "/v1/")


def _model(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def _body(ref: str | dict[str, Any], schemas: dict[str, Any], required: bool) -> dict[str, Any]:
    if isinstance(ref, dict):
        return ref
    model = _model(ref)
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"required": required, "content": {"application/json": {"schema": ref}}}


def _errors_for(method: str, path: str) -> list[str]:
    codes = ["500"]
    if (method, path) not in PUBLIC:
        codes += ["401", "403"]
    elif path.startswith("/webhooks/"):
        codes.append("401")  # a signature or secret that does not match
    if "{" in path:
        codes.append("404")
    if method in ("post", "put", "patch"):
        codes += ["400", "413", "415", "422"]
    if path.startswith(VENDOR_PREFIXES):
        codes += ["400", "429", "502", "503", "504"]
    return sorted(set(codes))


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 shape: ours is the envelope
        schemas.pop(name, None)
    schemas["Error"] = ERROR_ENVELOPE
    schemas["OpenAIError"] = OPENAI_ERROR
    components["securitySchemes"] = {"bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": "A workspace API key (vgw_…) or, for /admin/* and operator routes, the admin token.",
    }}  # fmt: skip
    for path, operations in doc.get("paths", {}).items():
        for method, operation in operations.items():
            key = (method, path)
            if key in BODIES:
                operation["requestBody"] = _body(BODIES[key], schemas, key not in OPTIONAL_BODIES)
            for name, schema, text in QUERY.get(key, []):
                operation.setdefault("parameters", []).append(
                    {"name": name, "in": "query", "required": False, "schema": schema, "description": text}
                )
            if key not in PUBLIC:
                operation["security"] = [{"bearerAuth": []}]
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            shape = "#/components/schemas/" + ("OpenAIError" if path.startswith("/v1/") else "Error")
            for code in _errors_for(method, path):
                responses[code] = {"description": ERRORS[code],
                                   "content": {"application/json": {"schema": {"$ref": shape}}}}  # fmt: skip
    app.openapi_schema = doc
    return doc
