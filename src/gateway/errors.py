"""Every error the gateway can return, and the one JSON envelope they all render to.

GatewayError                      (type, status)  → {"error": {"type", "message", "request_id", ...}}
├── InvalidRequest                invalid_request 400/422
├── Unauthorized                  unauthorized 401
├── Forbidden                     forbidden 403
├── NotFound                      not_found 404
├── PayloadTooLarge               payload_too_large 413
├── UnsupportedMediaType          unsupported_media_type 415
├── RateLimited                   rate_limited 429 (+ Retry-After)
├── QuotaExceeded                 quota_exceeded 429 (+ Retry-After)
├── UpstreamError                 upstream_error 502           (every vendor failed)
├── NoProvidersAvailable          no_providers_available 503  (nothing to try)
└── UpstreamTimeout               upstream_timeout 504         (every vendor timed out)

ProviderError                     raised by vendor adapters; never reaches the client directly:
                                  the failover loop collects them as attempts and decides what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class GatewayError(Exception):
    type = "internal_error"
    status = 500

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        attempts: list[dict[str, Any]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.retry_after = retry_after
        self.attempts = attempts
        self.extra = extra or {}

    def body(self, request_id: str) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message, "request_id": request_id}
        if self.attempts is not None:
            error["attempts"] = self.attempts
        error.update(self.extra)
        return {"error": error}

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, int(-(-self.retry_after // 1))))}


class InvalidRequest(GatewayError):
    type = "invalid_request"
    status = 400


class Unauthorized(GatewayError):
    type = "unauthorized"
    status = 401


class Forbidden(GatewayError):
    type = "forbidden"
    status = 403


class NotFound(GatewayError):
    type = "not_found"
    status = 404


class PayloadTooLarge(GatewayError):
    type = "payload_too_large"
    status = 413


class UnsupportedMediaType(GatewayError):
    type = "unsupported_media_type"
    status = 415


class RateLimited(GatewayError):
    type = "rate_limited"
    status = 429


class QuotaExceeded(GatewayError):
    type = "quota_exceeded"
    status = 429


class UpstreamError(GatewayError):
    type = "upstream_error"
    status = 502


class NoProvidersAvailable(GatewayError):
    type = "no_providers_available"
    status = 503


class UpstreamTimeout(GatewayError):
    type = "upstream_timeout"
    status = 504


class ErrorClass(str, Enum):
    """Why a vendor attempt failed. Decides whether the failover loop moves on, and what it tells the client."""

    TIMEOUT = "timeout"  # no answer (or no first byte) within the attempt's deadline
    CONNECTION = "connection"  # refused, reset, DNS, cut mid-body
    RATE_LIMITED = "rate_limited"  # 429 the vendor wants us to back off from
    SERVER = "server_error"  # 5xx, 529 overloaded
    MALFORMED = "malformed_response"  # 2xx we could not parse
    AUTH = "auth"  # 401/403: this vendor config is broken, others may work
    QUOTA = "quota"  # out of credit / spend cap: retrying this vendor is pointless
    INVALID_INPUT = "invalid_input"  # the vendor rejects this input (400/413/422)
    UNSUPPORTED = "unsupported"  # the vendor cannot do what was asked (format, voice, model)


# Every class moves on to the next vendor: a vendor rejecting input may be stricter than the next one.
# What differs is whether the *same* vendor may be retried and whether it counts against the vendor's health.
RETRYABLE_SAME_VENDOR = frozenset(
    {ErrorClass.TIMEOUT, ErrorClass.CONNECTION, ErrorClass.RATE_LIMITED, ErrorClass.SERVER}
)
HEALTH_FAILURES = frozenset(
    {ErrorClass.TIMEOUT, ErrorClass.CONNECTION, ErrorClass.SERVER, ErrorClass.MALFORMED, ErrorClass.AUTH}
)
CLIENT_FAULTS = frozenset({ErrorClass.INVALID_INPUT, ErrorClass.UNSUPPORTED})


@dataclass
class ProviderError(Exception):
    """A vendor attempt failed. Adapters raise this (and only this) for every vendor-side failure."""

    provider: str
    error_class: ErrorClass
    message: str
    status: int | None = None
    retry_after: float | None = None  # seconds, from Retry-After / retry-after-ms / RetryInfo

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def retryable(self) -> bool:
        return self.error_class in RETRYABLE_SAME_VENDOR

    def attempt(self) -> dict[str, Any]:
        """The client-visible summary (never contains secrets: adapters keep vendor bodies short)."""
        out: dict[str, Any] = {"provider": self.provider, "error": self.error_class.value, "message": self.message}
        if self.status is not None:
            out["status"] = self.status
        return out


def describe_validation_errors(errors: list[Any], limit: int = 10) -> str:
    """Pydantic's error list as one readable line: ``field.path: message; ...`` (the ``body`` prefix dropped)."""
    problems = []
    for err in errors[:limit]:
        where = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
        problems.append(f"{where or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"
