"""A minimal server-sent-events reader: body chunks in, each event's ``data`` out (no I/O of its own)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator


async def iter_sse_data(chunks: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """The ``data`` of each event, multi-line data joined with newlines; comments and other fields are skipped.

    Chunks may split lines (and UTF-8 sequences) anywhere, so lines are cut from a byte buffer.
    """
    buffer = b""
    data_lines: list[str] = []
    async for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.replace(b"\r\n", b"\n").split(b"\n")
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if not line:
                if data_lines:
                    yield "\n".join(data_lines)
                    data_lines = []
            elif line.startswith("data:"):
                data_lines.append(_field_value(line))
    # A last event without its blank line is still an event the vendor sent.
    tail = buffer.decode("utf-8", "replace").rstrip("\r")
    if tail.startswith("data:"):
        data_lines.append(_field_value(tail))
    if data_lines:
        yield "\n".join(data_lines)


def _field_value(line: str) -> str:
    value = line[5:]
    return value.removeprefix(" ")
