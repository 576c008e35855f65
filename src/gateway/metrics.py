"""In-process counters rendered in the Prometheus text format for ``GET /metrics``.

Counting is a dict increment on the request path (no I/O, no locks: one event loop). Each isolate (or local process)
reports its own counters; Prometheus sums them across scrapes of every instance.

Histograms (request duration, vendor latency, time to first byte, realtime session length) have fixed buckets, so
``histogram_quantile`` gives p50/p95 across instances. Labels stay bounded: route templates, vendor ids,
capabilities, statuses and error classes — never workspace or key ids.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict

Labels = tuple[tuple[str, str], ...]

# Seconds. Requests and vendor calls: 5 ms .. 60 s. Realtime sessions: 1 s .. 1 h.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SESSION_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Histogram:
    """Cumulative-bucket histogram per label set: one bisect and two adds per observation."""

    def __init__(self, name: str, text: str, buckets: tuple[float, ...]) -> None:
        self.name = name
        self.text = text
        self.buckets = buckets
        self._series: dict[Labels, list[float]] = {}  # per-bucket counts (not cumulative), then +Inf, sum, count

    def observe(self, labels: Labels, value: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = [0.0] * (len(self.buckets) + 3)
        series[bisect_left(self.buckets, value)] += 1  # le is inclusive: value == bound lands in that bucket
        series[-2] += value
        series[-1] += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.text}", f"# TYPE {self.name} histogram"]
        for labels, series in sorted(self._series.items()):
            base = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            sep = "," if base else ""
            running = 0.0
            for bound, count in zip((*self.buckets, float("inf")), series, strict=False):
                running += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'{self.name}_bucket{{{base}{sep}le="{le}"}} {running:g}')
            lines.append(f"{self.name}_sum{{{base}}} {series[-2]:g}")
            lines.append(f"{self.name}_count{{{base}}} {series[-1]:g}")
        return lines


class Metrics:
    HELP = {  # noqa: RUF012 - a constant table
        "vgw_failover_outcomes_total": ("counter", "Failover steps by result (switched, retried, exhausted)."),
        "vgw_limit_rejections_total": ("counter", "Requests refused by workspace limits, by type."),
        "vgw_realtime_sessions_total": ("counter", "WebSocket sessions by route template and close status."),
        "vgw_http_requests_total": ("counter", "HTTP requests by method, route template and status."),
        "vgw_vendor_attempts_total": ("counter", "Vendor attempts by provider and outcome (ok or error class)."),
        "vgw_vendor_attempt_latency_seconds_sum": ("counter", "Seconds spent in successful vendor attempts."),
        "vgw_failovers_total": ("counter", "Switches from one vendor to the next, by from/to provider."),
        "vgw_speech_cache_lookups_total": ("counter", "Speech cache lookups by result (hit, miss, bypass)."),
        "vgw_speech_cache_bytes_total": ("counter", "Audio bytes served from / stored into the speech cache."),
        "vgw_streams_failed_total": ("counter", "Streamed responses aborted because every vendor failed mid-stream."),
    }

    def __init__(self) -> None:
        self._values: dict[str, dict[Labels, float]] = defaultdict(lambda: defaultdict(float))
        self.request_duration = Histogram(
            "vgw_http_request_duration_seconds", "Time to serve an HTTP request (to its last byte), by route.",
            LATENCY_BUCKETS,
        )  # fmt: skip
        self.vendor_latency = Histogram(
            "vgw_vendor_latency_seconds",
            "Successful vendor attempts (streams: to the vendor's first byte), by provider and capability.",
            LATENCY_BUCKETS,
        )
        self.ttfb = Histogram(
            "vgw_time_to_first_byte_seconds",
            "Client-visible time to the response's first body byte, by the vendor that served it and capability.",
            LATENCY_BUCKETS,
        )
        self.session_duration = Histogram(
            "vgw_realtime_session_duration_seconds", "Realtime WebSocket session length, by route.", SESSION_BUCKETS
        )
        self._histograms = (self.request_duration, self.vendor_latency, self.ttfb, self.session_duration)

    def inc(self, name: str, labels: Labels, amount: float = 1.0) -> None:
        self._values[name][labels] += amount

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.inc("vgw_http_requests_total", (("method", method), ("route", route), ("status", str(status))))
        self.request_duration.observe((("route", route),), seconds)

    def first_byte(self, provider: str, capability: str | None, seconds: float) -> None:
        self.ttfb.observe((("capability", capability or "none"), ("provider", provider)), seconds)

    def session(self, route: str, status: int, seconds: float) -> None:
        self.inc("vgw_realtime_sessions_total", (("route", route), ("status", str(status))))
        self.session_duration.observe((("route", route),), seconds)

    def limit_rejected(self, error_type: str) -> None:
        self.inc("vgw_limit_rejections_total", (("type", error_type),))

    def failover_outcome(self, result: str) -> None:
        self.inc("vgw_failover_outcomes_total", (("result", result),))

    def attempt(self, provider: str, outcome: str, seconds: float | None = None, capability: str | None = None) -> None:
        self.inc("vgw_vendor_attempts_total", (("provider", provider), ("outcome", outcome)))
        if seconds is not None:
            self.inc("vgw_vendor_attempt_latency_seconds_sum", (("provider", provider),), seconds)
            self.vendor_latency.observe((("capability", capability or "none"), ("provider", provider)), seconds)

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
        for histogram in self._histograms:
            lines += histogram.render()
        for name, value in sorted((gauges or {}).items()):
            lines += [f"# TYPE {name} gauge", f"{name} {value:g}"]
        return "\n".join(lines) + "\n"
