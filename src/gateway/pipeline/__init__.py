"""The request pipeline every HTTP capability goes through, free of any web-framework type:

    authenticate → admit → (speech cache) → candidates → strategy → attempts (breakers, cool-downs, deadlines)
    → vendor → usage event → release

- ``entry``: authenticate a bearer token and admit a spending request, giving a ``RequestContext``.
- ``context``: the ``RequestContext`` that flows through the stages (caller, workspace, admission ticket, trace) and
  runs the attempts (``run_failover`` over ``gateway.routing``'s candidates and breakers) and records usage.
- ``usage``: a ``UsageEvent`` — one value per billed vendor result.

Routers (``gateway.api``) only parse the wire format into these calls and render the result; the core never imports
the API layer. The admission is released by the transport when the response has ended (``on_response_end``).
"""
