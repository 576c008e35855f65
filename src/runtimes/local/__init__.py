"""The local runtime: the Worker's ports on CPython (SQLite for D1 and KV, asyncio tasks) and the dev server."""
