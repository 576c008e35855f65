"""JS → Python values, in one place.

With the ``python_workers`` flag the SDK's binding wrappers already hand back Python values (``JsDict`` rows,
``None`` for null); a raw binding or an older SDK hands back a ``JsProxy``. Everything the adapters return to the
core goes through :func:`to_python`, so the core only ever sees plain dicts, lists, str, numbers, bytes and None.
"""

from __future__ import annotations

from typing import Any


def _js_types() -> tuple[type, Any]:
    """(JsProxy, jsnull), imported lazily: only present inside Pyodide (or under the test stand-ins)."""
    try:
        from pyodide.ffi import JsProxy
    except ImportError:  # plain CPython: nothing can be a JsProxy
        return type("NoJsProxy", (), {}), object()
    try:
        from pyodide.ffi import jsnull
    except ImportError:  # Pyodide before jsnull existed converted null to None
        jsnull = object()
    return JsProxy, jsnull


def is_null(value: Any) -> bool:
    """JS null/undefined as Pyodide hands them over (``None`` or ``jsnull``), without converting anything else."""
    return value is None or value is _js_types()[1]


def to_python(value: Any) -> Any:
    js_proxy, jsnull = _js_types()
    return _convert(value, js_proxy, jsnull)


def _convert(value: Any, js_proxy: type, jsnull: Any) -> Any:
    if value is None or value is jsnull:
        return None
    if isinstance(value, js_proxy):
        converted = value.to_py()
        if isinstance(converted, js_proxy):  # no Python equivalent (a class instance): leave it to the caller
            return converted
        return _convert(converted, js_proxy, jsnull)
    if isinstance(value, dict):  # includes the SDK's JsDict: hand the core a plain dict
        return {str(k): _convert(v, js_proxy, jsnull) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_convert(v, js_proxy, jsnull) for v in value]
    if isinstance(value, (memoryview, bytearray)):  # to_py() of an ArrayBuffer / typed array
        return bytes(value)
    return value
