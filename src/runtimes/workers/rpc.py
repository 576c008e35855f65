"""Workers RPC on one named Durable Object, as the core's services use it: plain Python values back."""

from __future__ import annotations

from typing import Any

from .convert import to_python


class NamedObjectRpc:
    """Calls methods of the object ``name`` in ``namespace``.

    A stub belongs to the request that made it: workerd ties it to that request's I/O context, and using it from a
    later request throws "Cannot perform I/O on behalf of a different request". So every call takes a fresh stub
    (``getByName`` does no I/O), in whatever request — or background work of a request — is running now.
    """

    def __init__(self, namespace: Any, name: str) -> None:
        self._namespace = namespace
        self._name = name

    async def call(self, method: str, *args: Any) -> Any:
        stub = self._namespace.getByName(self._name)
        return to_python(await getattr(stub, method)(*args))
