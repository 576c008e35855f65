"""The Cloudflare Python Worker side: Workers-backed implementations of the ``gateway.ports``.

What runs where
---------------
- ``src/entry.py`` (the Worker's main module): ``Default(WorkerEntrypoint)`` builds one ``Runtime`` and one FastAPI
  app per isolate (:mod:`.runtime`), then hands each request to the SDK's ``workers.asgi``. It also re-exports the
  Durable Object classes, which the runtime looks up on the main module.
- ``src/health_do.py`` runs *inside* the ``ProviderHealthMonitor`` Durable Object (one global instance): it wraps
  ``gateway.health.monitor.HealthMonitor`` over the object's transactional storage (:mod:`.do_storage`) and D1.
- ``src/limits_do.py`` runs inside one ``WorkspaceLimiter`` Durable Object per workspace and wraps
  ``gateway.limits.limiter.WorkspaceLimiter`` the same way.
- Every isolate talks to those objects over Workers RPC (:mod:`.health`), to vendors through ``fetch``
  (:mod:`.http_transport`, :mod:`.websocket`), and to D1/KV through :mod:`.d1` and :mod:`.kv`. Work after the
  response is registered with the request's ``ctx.waitUntil`` (:mod:`.tasks`).

Only the modules in this package (and the three top-level modules above) touch ``js``, ``pyodide`` or ``workers``,
and they import them lazily inside functions, so the package imports on CPython and its tests install stand-ins.
The core (``gateway``, ``providers``) never imports this package.
"""
