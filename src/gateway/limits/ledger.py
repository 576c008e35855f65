"""The admission ledger of one workspace: the single piece of logic that says yes or no.

Synchronous on purpose: between reading the counters and reserving there is no ``await``, so on one event loop (the
local process, or a Durable Object, which runs one event at a time) check-and-reserve is atomic.

Everything is granted as a **lease** (a dict, JSON-safe, so a Durable Object can store and return it):

- ``permits``: requests that may start while ``now < granted + permitTtl``; counted in the per-minute and per-hour
  windows of the workspace *and* of the key at once (see :mod:`.windows` for why that stays exact);
- ``budgetMicros``: a slice of the month's remaining budget reserved for those requests (``None``: no budget set);
- ``audioMs``: a slice of the month's remaining audio quota (``None``: no quota set);
- ``slots``: concurrent stream/WebSocket slots held until the lease is released.

``charge`` turns reserved money into spent money as usage rows are recorded; ``release`` gives back what was not
used. A lease nobody releases (its holder died) is reclaimed after ``holdUntil``.

Budget rule: a grant needs ``spent + reserved + estimate <= budget``. When nothing at all is reserved and something is
left, a single request may start even if its estimate is larger than what is left — so a small budget is not dead
because of a conservative estimate, and spending stops within one request's cost of the budget. The audio quota is a
gate (something must be left); its estimate defaults to zero.
"""

from __future__ import annotations

from typing import Any

from gateway.ids import new_row_id
from gateway.limits.policy import Limits
from gateway.limits.windows import Window

MINUTE = 60.0
HOUR = 3600.0
STREAM_RETRY_SECONDS = 1.0  # a busy stream slot frees when some stream ends: ask again soon
RESERVED_RETRY_SECONDS = 1.0  # the budget is held by requests in flight: they settle within a request's time

Grant = dict[str, Any]


def refusal(reason: str, retry_after: float, message: str) -> Grant:
    return {"ok": False, "lease": None, "reason": reason, "retryAfter": max(0.0, retry_after), "message": message}


class Ledger:
    def __init__(self) -> None:
        self.period: str | None = None
        self.spent_micros = 0
        self.audio_ms = 0
        self.reserved_micros = 0
        self.reserved_audio_ms = 0
        self.streams = 0
        self.windows: dict[str, tuple[Window, Window]] = {}
        self.leases: dict[str, dict[str, Any]] = {}
        self._parsed: tuple[Any, Limits] | None = None  # (limits JSON, parsed): a workspace's limits rarely change

    # -- the month ---------------------------------------------------------------------------------------------------
    def open_period(self, period: str, spent_micros: int = 0, audio_ms: int = 0) -> None:
        """Switch to ``period`` (a newer month resets spend), then take the larger of what we know and the baseline
        (usage rows already stored: idempotent, so several loaders never double count)."""
        if self.period is None or period > self.period:
            self.period = period
            self.spent_micros = self.audio_ms = 0
            current = [lease for lease in self.leases.values() if lease["period"] == period]
            self.reserved_micros = sum(lease["budget"] or 0 for lease in current)
            self.reserved_audio_ms = sum(lease["audio"] or 0 for lease in current)
        if period == self.period:
            self.spent_micros = max(self.spent_micros, int(spent_micros))
            self.audio_ms = max(self.audio_ms, int(audio_ms))

    def _limits(self, raw: Any) -> Limits:
        """Parse the limits JSON only when it differs from the last one: parsing (Decimal money) was about a third
        of an admission, and every request of a workspace carries the same limits."""
        if isinstance(raw, Limits):
            return raw
        if self._parsed is None or self._parsed[0] != raw:
            # Keep a copy: the caller's dict may be edited in place later, and must then be parsed again.
            self._parsed = (dict(raw) if isinstance(raw, dict) else raw, Limits.from_workspace(raw))
        return self._parsed[1]

    # -- rates -------------------------------------------------------------------------------------------------------
    def _windows(self, scope: str) -> tuple[Window, Window]:
        found = self.windows.get(scope)
        if found is None:
            found = self.windows[scope] = (Window(MINUTE), Window(HOUR))
        return found

    def _scopes(self, key_id: str | None) -> list[tuple[Window, Window]]:
        scopes = [self._windows("workspace")]
        if key_id:
            scopes.append(self._windows(f"key:{key_id}"))
        return scopes

    def _rate_room(self, now: float, limits: Limits, scopes: list[tuple[Window, Window]]) -> int:
        room = 1 << 30
        for minute, hour in scopes:
            if limits.per_minute is not None:
                room = min(room, minute.room(now, limits.per_minute))
            if limits.per_hour is not None:
                room = min(room, hour.room(now, limits.per_hour))
        return room

    def _rate_retry(self, now: float, limits: Limits, scopes: list[tuple[Window, Window]], wanted: int) -> float:
        wait = 0.0
        for minute, hour in scopes:
            if limits.per_minute is not None:
                wait = max(wait, minute.retry_after(now, limits.per_minute, wanted))
            if limits.per_hour is not None:
                wait = max(wait, hour.retry_after(now, limits.per_hour, wanted))
        return wait

    def restore_admission(self, at: float, key_id: str | None) -> None:
        """Count one request admitted at ``at`` (from before a restart) in the windows it was counted in then."""
        for minute, hour in self._scopes(key_id):
            minute.add(at, 0.0, 1, "restored")
            hour.add(at, 0.0, 1, "restored")

    # -- admission ---------------------------------------------------------------------------------------------------
    def acquire(self, now: float, request: dict[str, Any]) -> Grant:
        """Grant a lease or refuse. ``request``: ``limits`` (workspace JSON), ``period``, ``keyId``, ``permits`` /
        ``minPermits``, ``budgetMicros`` / ``minBudgetMicros``, ``audioMs`` / ``minAudioMs``, ``slots``,
        ``permitTtl``, ``holdTtl``, ``quotaRetryAfter``, optional baselines ``spentMicros`` / ``spentAudioMs``, and
        optionally ``returning``: a lease the caller gives back first (a ``release`` payload), in the same step."""
        returning = request.get("returning")
        if returning:
            self.release(
                str(returning["id"]),
                int(returning.get("unusedPermits") or 0),
                int(returning.get("spentMicros") or 0),
                int(returning.get("audioMs") or 0),
                returning.get("period"),
            )
        self.open_period(str(request["period"]), request.get("spentMicros") or 0, request.get("spentAudioMs") or 0)
        grant = self._try(now, request)
        if not grant["ok"] and self._reclaim(now):
            grant = self._try(now, request)
        return grant

    def _try(self, now: float, request: dict[str, Any]) -> Grant:
        limits = self._limits(request.get("limits"))
        key_id = request.get("keyId")
        scopes = self._scopes(key_id)
        min_permits = int(request.get("minPermits", 1))
        wanted_permits = max(min_permits, int(request.get("permits", 1)))
        slots = int(request.get("slots", 0))
        quota_retry = float(request.get("quotaRetryAfter", 3600.0))

        room = self._rate_room(now, limits, scopes)
        if room < min_permits:
            wait = self._rate_retry(now, limits, scopes, min_permits)
            return refusal("rate", wait, "rate limit reached for this workspace or key")
        permits = min(wanted_permits, room)

        if slots and limits.concurrent_streams is not None and self.streams + slots > limits.concurrent_streams:
            return refusal("concurrency", STREAM_RETRY_SECONDS, "too many concurrent streams for this workspace")

        budget: int | None = None
        if limits.budget_micros is not None:
            remaining = limits.budget_micros - self.spent_micros - self.reserved_micros
            minimum = int(request.get("minBudgetMicros", 0))
            if remaining <= 0 and self.reserved_micros == 0:
                return refusal("budget", quota_retry, "the workspace's monthly budget is used up")
            if minimum <= remaining and remaining > 0:
                budget = min(max(minimum, int(request.get("budgetMicros", minimum))), remaining)
            elif self.reserved_micros == 0:
                budget, permits = minimum, min_permits  # the lone request that may finish the budget
            else:
                return refusal(
                    "budget", RESERVED_RETRY_SECONDS, "the rest of the monthly budget is reserved by requests in flight"
                )

        audio: int | None = None
        if limits.audio_ms is not None:
            remaining_audio = limits.audio_ms - self.audio_ms - self.reserved_audio_ms
            minimum_audio = int(request.get("minAudioMs", 0))
            if remaining_audio <= 0 or minimum_audio > remaining_audio:
                retry = quota_retry if self.reserved_audio_ms == 0 else RESERVED_RETRY_SECONDS
                return refusal("audio", retry, "the workspace's monthly audio minutes are used up")
            audio = min(max(minimum_audio, int(request.get("audioMs", minimum_audio))), remaining_audio)

        lease_id = new_row_id("lease")
        permit_ttl = float(request.get("permitTtl", 0.0))
        for minute, hour in scopes:
            minute.add(now, permit_ttl, permits, lease_id)
            hour.add(now, permit_ttl, permits, lease_id)
        self.reserved_micros += budget or 0
        self.reserved_audio_ms += audio or 0
        self.streams += slots
        hold_until = now + float(request.get("holdTtl", 120.0))
        self.leases[lease_id] = {
            "key": key_id,
            "period": self.period,
            "budget": budget,
            "audio": audio,
            "slots": slots,
            "holdUntil": hold_until,
        }
        lease = {
            "id": lease_id,
            "keyId": key_id,
            "period": self.period,
            "permits": permits,
            "budgetMicros": budget,
            "audioMs": audio,
            "slots": slots,
            "permitTtl": permit_ttl,
            "holdUntil": hold_until,
        }
        return {"ok": True, "lease": lease, "reason": None, "retryAfter": None, "message": None}

    def reserve_at_least(self, lease_id: str, micros: int, raw_limits: Any, quota_retry: float) -> Grant:
        """Raise a lease's budget reservation to ``micros`` when the rest of the budget allows it (no lone-request
        exception here: the estimate is the request's own, so refusing it keeps spending within the budget)."""
        lease = self.leases.get(lease_id)
        limits = self._limits(raw_limits)
        if lease is None or lease["budget"] is None or limits.budget_micros is None or micros <= lease["budget"]:
            return {"ok": True, "lease": None, "reason": None, "retryAfter": None, "message": None}
        extra = micros - lease["budget"]
        remaining = limits.budget_micros - self.spent_micros - self.reserved_micros
        if extra > remaining:
            others = self.reserved_micros - lease["budget"]
            if others > 0 and extra <= remaining + others:
                return refusal(
                    "budget", RESERVED_RETRY_SECONDS, "the rest of the monthly budget is reserved by requests in flight"
                )
            return refusal(
                "budget", quota_retry, "this request's estimated cost exceeds the rest of the monthly budget"
            )
        lease["budget"] += extra
        self.reserved_micros += extra
        return {"ok": True, "lease": None, "reason": None, "retryAfter": None, "message": None}

    # -- settling ------------------------------------------------------------------------------------------------------
    def charge(self, lease_id: str | None, micros: int, audio_ms: int, period: str | None = None) -> None:
        """Real cost recorded: it is spent now, and the lease's reservation shrinks by as much (never below zero)."""
        lease = self.leases.get(lease_id) if lease_id else None
        if (lease["period"] if lease else period) != self.period:
            return  # last month's money: already in last month's usage rows, not this month's budget
        self.spent_micros += micros
        self.audio_ms += audio_ms
        if lease is not None:
            if lease["budget"]:
                taken = min(lease["budget"], micros)
                lease["budget"] -= taken
                self.reserved_micros -= taken
            if lease["audio"]:
                taken = min(lease["audio"], audio_ms)
                lease["audio"] -= taken
                self.reserved_audio_ms -= taken

    def release(
        self,
        lease_id: str,
        unused_permits: int = 0,
        spent_micros: int = 0,
        audio_ms: int = 0,
        period: str | None = None,
    ) -> None:
        lease = self.leases.get(lease_id)
        self.charge(lease_id, spent_micros, audio_ms, period)
        if lease is None:
            return  # reclaimed already (or never ours): only the money counts
        del self.leases[lease_id]
        self._drop(lease_id, lease, unused_permits)

    def _drop(self, lease_id: str, lease: dict[str, Any], unused_permits: int) -> None:
        if lease["period"] == self.period:
            self.reserved_micros -= lease["budget"] or 0
            self.reserved_audio_ms -= lease["audio"] or 0
        self.streams -= lease["slots"]
        for minute, hour in self._scopes(lease["key"]):
            minute.give_back(lease_id, unused_permits)
            hour.give_back(lease_id, unused_permits)

    def _reclaim(self, now: float) -> bool:
        """Leases past ``holdUntil`` are abandoned (their holder died): free their reservations and slots. Their
        permits keep counting until they expire (they may have been used)."""
        stale = [(lease_id, lease) for lease_id, lease in self.leases.items() if lease["holdUntil"] <= now]
        for lease_id, lease in stale:
            del self.leases[lease_id]
            self._drop(lease_id, lease, 0)
        for scope in [s for s, (minute, hour) in self.windows.items() if s != "workspace"]:
            minute, hour = self.windows[scope]
            hour.prune(now)
            minute.prune(now)
            if not hour.entries and not minute.entries:
                del self.windows[scope]
        return bool(stale)

    # -- persistence (Durable Object storage) ------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "spent": self.spent_micros,
            "audio": self.audio_ms,
            "streams": self.streams,
            "reserved": self.reserved_micros,
            "reservedAudio": self.reserved_audio_ms,
            "leases": self.leases,
            "windows": {scope: [m.to_json(), h.to_json()] for scope, (m, h) in self.windows.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ledger:
        ledger = cls()
        ledger.period = data.get("period")
        ledger.spent_micros = int(data.get("spent", 0))
        ledger.audio_ms = int(data.get("audio", 0))
        ledger.streams = int(data.get("streams", 0))
        ledger.reserved_micros = int(data.get("reserved", 0))
        ledger.reserved_audio_ms = int(data.get("reservedAudio", 0))
        ledger.leases = {k: dict(v) for k, v in (data.get("leases") or {}).items()}
        for scope, (minute, hour) in (data.get("windows") or {}).items():
            ledger.windows[scope] = (Window(MINUTE, minute), Window(HOUR, hour))
        return ledger
