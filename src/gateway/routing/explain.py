"""Why nothing can serve a request, in words a caller can act on: what was asked, which vendors could serve it if
they were configured, and what the configured ones (the built-in engine among them) do make.

The same ``can_serve`` test that filtered the candidates is asked of every vendor this runtime knows, configured or
not, so the advice can never disagree with the routing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.routing.directory import Candidate
from providers import available_provider_ids, get_provider
from providers.base import Capability, Credentials

_NO_CREDENTIALS = Credentials(api_key=None, base_url="")


def could_serve(capability: Capability, can_serve: Callable[[Candidate], bool]) -> list[str]:
    """Every vendor on this runtime that could serve the request if this workspace had it configured."""
    out = []
    for provider_id in available_provider_ids():
        provider = get_provider(provider_id)
        if capability not in provider.capabilities:
            continue
        probe = Candidate(provider, _NO_CREDENTIALS, 0, "unconfigured", {}, capability=capability)
        try:
            able = can_serve(probe)
        except Exception:  # noqa: BLE001 - advice must never turn a 503 into a 500
            able = False
        if able:
            out.append(provider_id)
    return out


def unservable(
    capability: Capability,
    asked: str | None,
    configured: Sequence[Candidate],
    can_serve: Callable[[Candidate], bool],
) -> str:
    """The 503 message for a request no configured vendor can serve."""
    what = asked or f"this {capability.value} request"
    able = could_serve(capability, can_serve)
    if not configured:
        message = f"no vendor is configured for {capability.value}"
        if able:
            message += f"; {what} needs one of: {', '.join(able)}"
        return message
    message = f"no configured vendor can serve {what}"
    message += f"; it needs one of: {', '.join(able)}" if able else "; no vendor this gateway knows can serve it"
    notes = [f"{_name(c)} {note}" for c in configured if (note := c.provider.describe_support(capability))]
    if notes:
        message += "; " + "; ".join(notes)
    return message


def _name(candidate: Candidate) -> str:
    return f"the built-in engine ({candidate.id})" if candidate.source == "builtin" else candidate.id
