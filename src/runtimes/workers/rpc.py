"""Workers RPC on one named Durable Object, as the core's services use it: plain Python values back."""

from __future__ import annotations

from typing import Any

from .convert import to_python


class NamedObjectRpc:
    """Calls methods of the object ``name`` in ``namespace``. The stub is taken on first use and kept; after an error
    it is dropped, since a stub that saw an error may stay broken (e.g. the object was reset)."""

    def __init__(self, namespace: Any, name: str) -> None:
        self._namespace = namespace
        self._name = name
        self._stub: Any | None = None

    async def call(self, method: str, *args: Any) -> Any:
        if self._stub is None:
            self._stub = self._namespace.getByName(self._name)
        try:
            return to_python(await getattr(self._stub, method)(*args))
        except Exception:
            self._stub = None
            raise
