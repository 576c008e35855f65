"""In-process counters rendered in the Prometheus text format for ``GET /metrics``.

Counting is a dict increment on the request path (no I/O, no locks: one event loop). Each isolate (or local process)
reports its own counters; Prometheus sums them across scrapes of every instance.
"""

from __future__ import annotations

from collections import defaultdict

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    HELP = {
        "vgw_http_requests_total": ("counter", "HTTP requests by method, route template and status."),
        "vgw_http_request_duration_seconds_sum": ("counter", "Seconds spent serving requests, by route template."),
        "vgw_http_request_duration_seconds_count": ("counter", "Requests timed, by route template."),
        "vgw_vendor_attempts_total": ("counter", "Vendor attempts by provider and outcome (ok or error class)."),
        "vgw_vendor_attempt_latency_seconds_sum": ("counter", "Seconds spent in successful vendor attempts."),
        "vgw_failovers_total": ("counter", "Switches from one vendor to the next, by from/to provider."),
        "vgw_speech_cache_lookups_total": ("counter", "Speech cache lookups by result (hit, miss, bypass)."),
        "vgw_speech_cache_bytes_total": ("counter", "Audio bytes served from / stored into the speech cache."),
        "vgw_streams_failed_total": ("counter", "Streamed responses aborted because every vendor failed mid-stream."),
    }

    def __init__(self) -> None:
        self._values: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))

    def inc(self, name: str, labels: Labels, amount: float = 1.0) -> None:
        self._values[name][labels] += amount

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.inc("vgw_http_requests_total", (("method", method), ("route", route), ("status", str(status))))
        self.inc("vgw_http_request_duration_seconds_sum", (("route", route),), seconds)
        self.inc("vgw_http_request_duration_seconds_count", (("route", route),))

    def attempt(self, provider: str, outcome: str, seconds: float | None = None) -> None:
        self.inc("vgw_vendor_attempts_total", (("provider", provider), ("outcome", outcome)))
        if seconds is not None:
            self.inc("vgw_vendor_attempt_latency_seconds_sum", (("provider", provider),), seconds)

    def failover(self, from_provider: str, to_provider: str | None) -> None:
        self.inc("vgw_failovers_total", (("from", from_provider), ("to", to_provider or "none")))

    def stream_failed(self, kind: str) -> None:
        self.inc("vgw_streams_failed_total", (("kind", kind),))

    def render(self, gauges: dict[str, float] | None = None) -> str:
        lines: list[str] = []
        for name in sorted(self._values):
            kind, text = self.HELP.get(name, ("counter", name))
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            for labels, value in sorted(self._values[name].items()):
                rendered = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{rendered}}} {value:g}")
        for name, value in sorted((gauges or {}).items()):
            lines += [f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Counts every HTTP request by route template (not raw path: ids would explode the label set) and status."""

    def __init__(self, app: object, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # type: ignore[operator]
            return
        import time

        started = time.perf_counter()
        status = 500

        async def capture(message: dict) -> None:  # type: ignore[type-arg]
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)  # type: ignore[operator]

        try:
            await self.app(scope, receive, capture)  # type: ignore[operator]
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.request(scope.get("method", ""), route, status, time.perf_counter() - started)
