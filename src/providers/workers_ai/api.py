"""Endpoint config for Workers AI through AI Gateway: URLs, auth headers, the Cloudflare envelope and its errors.

REST: ``POST {base}/{account_id}/{gateway_id}/workers-ai/{model_id}`` with ``Authorization: Bearer <API token>`` and,
for an authenticated gateway, ``cf-aig-authorization: Bearer <gateway token>`` (reference/providers.md §7.1).
JSON answers come wrapped: ``{"result": …, "success": true, "errors": [], "messages": []}``; failures carry
``{"success": false, "errors": [{"code": 3036, "message": "…"}]}`` with an HTTP status.
"""

from __future__ import annotations

from typing import Any

from gateway.errors import ErrorClass, ProviderError
from providers.base import Credentials

PROVIDER_ID = "workers_ai"
DEFAULT_BASE_URL = "https://gateway.ai.cloudflare.com/v1"
DEFAULT_GATEWAY_ID = "default"

# Keys this adapter keeps in ``Credentials.extra``.
ACCOUNT_ID = "account_id"
GATEWAY_ID = "gateway_id"
GATEWAY_TOKEN = "aig_token"  # secret: the authenticated gateway's token (CF_AIG_TOKEN)

# Workers AI internal error codes whose class differs from what the HTTP status alone says
# (developers.cloudflare.com/workers-ai/platform/errors/).
_CODE_CLASSES = {
    3036: ErrorClass.QUOTA,  # 429 "Account limited": the daily free Neurons are used up; retrying is pointless
    5007: ErrorClass.UNSUPPORTED,  # 400 "No such model … or task"
    3042: ErrorClass.UNSUPPORTED,  # 404 "The model name is invalid"
}


def model_url(credentials: Credentials, model: str) -> str:
    account = credentials.extra.get(ACCOUNT_ID)
    if not account:
        raise ProviderError(PROVIDER_ID, ErrorClass.AUTH, "no Cloudflare account id configured")
    gateway = credentials.extra.get(GATEWAY_ID) or DEFAULT_GATEWAY_ID
    return f"{credentials.base_url.rstrip('/')}/{account}/{gateway}/workers-ai/{model}"


def auth_headers(credentials: Credentials) -> dict[str, str]:
    if not credentials.api_key:
        raise ProviderError(PROVIDER_ID, ErrorClass.AUTH, "no Cloudflare API token configured")
    headers = {"Authorization": f"Bearer {credentials.api_key}"}
    gateway_token = credentials.extra.get(GATEWAY_TOKEN)
    if gateway_token:
        headers["cf-aig-authorization"] = f"Bearer {gateway_token}"
    return headers


def _first_error(body: Any) -> tuple[int | None, str | None]:
    if not isinstance(body, dict):
        return None, None
    errors = body.get("errors") or body.get("error")  # AI Gateway's own errors: "error" [UNCONF]
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        code, message = errors[0].get("code"), errors[0].get("message")
        try:
            code = int(code) if code is not None else None
        except (TypeError, ValueError):
            code = None
        return code, (str(message) if message is not None else None)
    return None, None


def describe_error(status: int, body: Any, text: str) -> tuple[str, ErrorClass | None]:
    """``providers.http`` hook: the envelope's first error as ``"<code>: <message>"`` and its class override."""
    code, message = _first_error(body)
    if message is None:
        return (text or f"HTTP {status}"), None
    return (f"{code}: {message}" if code is not None else message), _CODE_CLASSES.get(code) if code else None


def unwrap_result(body: Any) -> Any:
    """The ``result`` of a 2xx envelope. ``success: false`` on a 2xx is still a failure; a missing result is MALFORMED."""
    if not isinstance(body, dict):
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "response is not a Cloudflare envelope")
    if body.get("success") is False:
        message, override = describe_error(200, body, "")
        raise ProviderError(PROVIDER_ID, override or ErrorClass.SERVER, message[:300])
    if body.get("result") is None:
        raise ProviderError(PROVIDER_ID, ErrorClass.MALFORMED, "envelope has no result")
    return body["result"]
