"""Exact limits across the worker processes of ``voice-gateway dev --workers N``.

The model is the Worker's: one authority per workspace serialises admission (there, the ``WorkspaceLimiter`` Durable
Object). Here the supervisor process is the authority for every workspace: it runs the same
:class:`~gateway.limits.local.InProcessLimits` a single-process server runs (one event loop, so check-and-reserve is
one step), and each worker process reaches it over a Unix socket with :class:`SharedLimits`. Each request is a
one-permit lease, so admission is exact, not merely conservative: a limit of 10 admits 10 however the requests are
spread over the workers (the Worker's leases of 8 permits would strand unused permits in an idle isolate).

It costs one local round trip per admission (admit + release: ~0.14 ms measured on the loaded 2-core box); a SQLite transaction per
admission (``BEGIN IMMEDIATE``, read and write the ledger) would be exact too, but it serialises every worker on the
database's write lock and re-reads the ledger each time.

Wire format: one JSON object per line. A worker keeps two connections: an asyncio one for admissions (many in
flight, answered by ``id``) and a blocking one for the port's synchronous calls (``charge``, ``release``: no answer;
``reserve``: answered) — the port's contract is that those never await. Everything about a request is sent after its
admission was answered, so the two connections cannot reorder it. When a worker's connections close (the worker
exited) the authority releases whatever it still held, so a crashed worker cannot keep stream slots or budget.

The rate windows are still persisted as a single process persists them: each worker writes its admissions to
``rate_admissions`` through its recorder, and the authority reads the last hour back the first time it admits for a
workspace.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
from typing import Any

from gateway.errors import GatewayError, QuotaExceeded, RateLimited
from gateway.limits.local import PRUNE_EVERY_SECONDS, InProcessLimits
from gateway.limits.service import Ask, Ticket, audio_ms_of
from gateway.ports import Clock
from gateway.recorder import Recorder
from gateway.store.admissions import Admission, prune_statement
from gateway.store.usage import UsageRow

log = logging.getLogger("gateway.limits")

_ERRORS: dict[str, type[GatewayError]] = {"rate_limited": RateLimited, "quota_exceeded": QuotaExceeded}


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def _error_reply(error: GatewayError) -> dict[str, Any]:
    return {"ok": False, "type": error.type, "message": error.message, "retryAfter": error.retry_after,
            "extra": error.extra}  # fmt: skip


def _raise_for(reply: dict[str, Any]) -> None:
    if not reply.get("ok"):
        error_type = _ERRORS.get(str(reply.get("type")), GatewayError)
        raise error_type(str(reply.get("message")), retry_after=reply.get("retryAfter"), extra=reply.get("extra"))


# -- the authority (the supervisor process) --------------------------------------------------------------------------
class LimitsAuthority:
    def __init__(self, limits: InProcessLimits) -> None:
        self.limits = limits

    async def serve(self, path: str) -> asyncio.Server:
        return await asyncio.start_unix_server(self._connection, path=path)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held: set[str] = set()  # request ids admitted over this connection and not yet released
        try:
            while line := await reader.readline():
                reply = await self._handle(json.loads(line), held)
                if reply is not None:
                    writer.write(_line(reply))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            for request_id in list(held):  # the worker is gone: nothing it held may stay reserved
                self._release(request_id, refunded=False, held=held)
            writer.close()

    async def _handle(self, message: dict[str, Any], held: set[str]) -> dict[str, Any] | None:
        op = message["op"]
        if op == "charge":
            self.limits.charge_cost(message["workspaceId"], message["requestId"], int(message["micros"]),
                                    int(message["audioMs"]), message["period"])  # fmt: skip
            return None
        if op == "release":
            self._release(message["requestId"], refunded=bool(message.get("refunded")), held=held)
            return None
        try:
            if op == "admit":
                ticket = await self.limits.admit(Ask(**message["ask"]))
                held.add(ticket.request_id)
            elif op == "reserve":
                held_ticket = self.limits.open_ticket(message["requestId"])
                if held_ticket is not None:
                    self.limits.reserve_at_least(held_ticket, int(message["micros"]))
            else:
                raise GatewayError(f"unknown limits operation {op!r}")
        except GatewayError as error:
            return {"id": message.get("id"), **_error_reply(error)}
        return {"id": message.get("id"), "ok": True}

    def _release(self, request_id: str, *, refunded: bool, held: set[str]) -> None:
        held.discard(request_id)
        ticket = self.limits.open_ticket(request_id)
        if ticket is not None and not ticket.released:
            ticket.released, ticket.refunded = True, refunded
            self.limits.release(ticket)


# -- a worker process's LimitsService ---------------------------------------------------------------------------------
class SharedLimits:
    admission_estimate = 0  # like InProcessLimits: Caller.reserve_budget reserves the real estimate

    def __init__(self, path: str, clock: Clock, recorder: Recorder | None = None) -> None:
        self.path = path
        self.clock = clock
        self.recorder = recorder
        self._open: dict[str, Ticket] = {}
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._seq = 0
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._sync: socket.socket | None = None
        self._sync_buffer = b""
        self._pruned_at = 0.0
        self.on_lost: list[Any] = []  # callbacks when the authority goes away (the worker then shuts down)

    async def connect(self) -> None:
        reader, self._writer = await asyncio.open_unix_connection(self.path)
        self._reader_task = asyncio.ensure_future(self._read_replies(reader))
        self._sync = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sync.connect(self.path)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                reply = json.loads(line)
                future = self._pending.pop(reply.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("the limits authority went away"))
        self._pending.clear()
        if self._writer is not None and not self._writer.is_closing():
            log.error("the limits authority (the supervisor process) went away")
            for callback in self.on_lost:
                callback()

    async def admit(self, ask: Ask) -> Ticket:
        if self._writer is None:
            raise ConnectionError("SharedLimits.connect() was not awaited")
        self._seq += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._seq] = future
        self._writer.write(_line({"op": "admit", "id": self._seq, "ask": dataclasses.asdict(ask)}))
        _raise_for(await future)
        ticket = Ticket(ask, self)
        self._open[ask.request_id] = ticket
        if self.recorder is not None:  # the windows survive a restart, as in InProcessLimits
            now = self.clock.time()
            self.recorder.record_admission(Admission(ask.request_id, ask.workspace_id, ask.key_id, int(now * 1000)))
            if now - self._pruned_at >= PRUNE_EVERY_SECONDS:  # idempotent: any worker may prune
                self._pruned_at = now
                self.recorder.record_statement(prune_statement(int(now * 1000)))
        return ticket

    def _send(self, message: dict[str, Any]) -> None:
        if self._sync is None:
            raise ConnectionError("the limits authority is not connected")
        self._sync.sendall(_line(message))

    def _tell(self, message: dict[str, Any]) -> None:
        """A one-way message (``charge``, ``release``): called as responses end, so a lost authority is logged, not
        raised into the response (the worker is shutting down then: ``on_lost``)."""
        try:
            self._send(message)
        except OSError:
            log.warning("the limits authority is unreachable; %s not delivered", message.get("op"))

    def charge(self, row: UsageRow) -> None:
        ticket = self._open.get(row.request_id)
        if ticket is not None and ticket.ask.workspace_id == row.workspace_id:
            ticket.charged_micros += row.final_cost_micros
            ticket.charged_audio_ms += audio_ms_of(row)
        self._tell({"op": "charge", "workspaceId": row.workspace_id, "requestId": row.request_id,
                    "micros": row.final_cost_micros, "audioMs": audio_ms_of(row), "period": row.billing_period})  # fmt: skip

    def release(self, ticket: Ticket) -> None:
        if self._open.get(ticket.request_id) is ticket:
            del self._open[ticket.request_id]
        self._tell({"op": "release", "requestId": ticket.request_id, "refunded": ticket.refunded})
        if ticket.refunded and self.recorder is not None:
            ask = ticket.ask
            self.recorder.record_admission(Admission(ask.request_id, ask.workspace_id, ask.key_id, 0, refunded=True))

    def reserve_at_least(self, ticket: Ticket, micros: int) -> None:
        if ticket.ask.limits.get("monthlyBudgetUsd") is None:
            return  # no budget: nothing to reserve against (the authority would say ok too)
        self._send({"op": "reserve", "id": 0, "requestId": ticket.request_id, "micros": micros})
        _raise_for(self._read_sync_reply())

    def _read_sync_reply(self) -> dict[str, Any]:
        assert self._sync is not None
        while b"\n" not in self._sync_buffer:
            chunk = self._sync.recv(4096)
            if not chunk:
                raise ConnectionError("the limits authority went away")
            self._sync_buffer += chunk
        line, _, self._sync_buffer = self._sync_buffer.partition(b"\n")
        return json.loads(line)

    def vendor_called(self, request_id: str) -> None:
        ticket = self._open.get(request_id)
        if ticket is not None:
            ticket.vendor_called = True
