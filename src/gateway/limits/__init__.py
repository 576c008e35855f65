"""Rate limits, concurrency, budgets and audio quotas per workspace and per API key — exact, and off the I/O path.

What is limited (the workspace's ``limits``; the same numbers apply to each of its keys):
``requestsPerMinute`` (default 60) and ``requestsPerHour`` (default 1000) over exact sliding windows,
``concurrentStreams`` (``/voice/stream`` bodies and WebSocket sessions in flight), ``monthlyBudgetUsd`` and
``audioMinutesPerMonth`` (calendar month, UTC, like billing periods). Over a limit the caller gets 429 with
``Retry-After``: ``rate_limited`` for rates and concurrency, ``quota_exceeded`` for budget and audio minutes.

Design
------
- :mod:`.ledger` is the whole decision, synchronous and pure (time is passed in): rate windows, stream slots, spent
  and reserved money/audio, and leases. Because nothing awaits between check and reserve, one event loop makes it
  atomic. Every grant is a lease of N permits + a budget slice + an audio slice + stream slots.
- Budgets are checked against **reservations**: an admitted request reserves its estimate (the route's, or
  ``DEFAULT_ESTIMATE_MICROS``); each usage row, as the recorder receives it (``Recorder.on_usage``), turns reserved
  money into spent money (``charge``); the end of the response releases what is left. Month-to-date spend is loaded
  once per workspace per isolate and month from ``usage_records`` (``UsageStore.spent_micros``), then kept in memory.
- :class:`.service.LimitsService` is the port, with two implementations:
  :class:`.local.InProcessLimits` (local runtime: each request is a one-permit lease of an in-memory ledger) and
  :class:`.leasing.LeasingLimits` (Workers: the per-workspace ``WorkspaceLimiter`` Durable Object, i.e.
  :class:`.limiter.WorkspaceLimiter` over the object's storage, is the authority; isolates lease blocks of permits
  and budget slices with a short expiry, spend them locally and give back what is unused — no round trip per
  request, and the object never grants more than the limits in total, so admission stays exact, if conservative).
  The runtime selects leasing by putting ``extras["limiter_stubs"]`` (see :mod:`.wiring`).

Using it
--------
- HTTP: ``gateway.api.deps.workspace_caller`` admits every non-GET request made with a workspace key;
  ``Caller.ticket`` is the admission. ``/voice/stream`` holds a stream slot. The ticket is released by
  ``GatewayMiddleware`` once the response has ended (after the last chunk of a streamed body).
- WebSocket handlers (they cannot use ``workspace_caller``: it takes a ``Request``) authenticate, then call::

      from gateway.limits.admission import admit
      ticket = await admit(gateway.limits, websocket.scope, workspace_id=workspace.id, key_id=principal.key_id,
                           workspace_limits=workspace.limits, request_id=request_id_of(websocket.scope))

  before accepting the socket (a ``RateLimited``/``QuotaExceeded`` then becomes a close with code 1008, or an HTTP
  429 before the upgrade). A websocket scope holds a ``concurrentStreams`` slot. The ticket is released when the
  handler returns; ``ticket.release()`` may be called earlier (idempotent). Record usage through
  ``gateway.recorder.record_usage`` with the session's request id, so its cost settles against the reservation.
"""
