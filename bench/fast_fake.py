"""A vendor fake fast enough not to be the bottleneck of a gateway benchmark: a raw asyncio (uvloop when installed)
HTTP/1.1 server speaking OpenAI's wire format for ``POST /v1/audio/speech`` (MP3) and ``POST /v1/chat/completions``
(JSON, or SSE when ``"stream": true``). Responses are pre-built; no fault injection (``tests.fakes.openai`` is the
fake for behaviour). ``python -m bench.fast_fake 9001``"""

from __future__ import annotations

import asyncio
import json
import sys

from tests.fakes.audio import silent_mp3

CREATED = 1_700_000_000
SPEECH = silent_mp3(1.5)
CHAT = json.dumps(
    {
        "id": "chatcmpl-fast",
        "object": "chat.completion",
        "created": CREATED,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Echo: hello there", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
        "service_tier": "default",
    }
).encode()


def _chunk(delta: dict, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> bytes:
    body: dict = {
        "id": "chatcmpl-fast",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}] if choices else [],
        "usage": usage,
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


CHAT_SSE = b"".join(
    [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Echo:"}),
        _chunk({"content": " hello"}),
        _chunk({}, "stop"),
        _chunk({}, usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}, choices=False),
        b"data: [DONE]\n\n",
    ]
)


def _response(content_type: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {len(body)}\r\n\r\n"
    return head.encode() + body


RESPONSES = {
    b"/v1/audio/speech": _response("audio/mpeg", SPEECH),
    b"/v1/chat/completions": _response("application/json", CHAT),
    b"stream": _response("text/event-stream", CHAT_SSE),
}
OTHER = _response("application/json", b'{"object":"list","data":[]}')


class Http(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            lower = head.lower()
            at = lower.find(b"content-length:")
            if at >= 0:
                length = int(lower[at + 15 : lower.find(b"\r\n", at) if lower.find(b"\r\n", at) > 0 else None])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            path = head.split(b" ", 2)[1]
            if path == b"/v1/chat/completions" and (b'"stream": true' in body or b'"stream":true' in body):
                self.transport.write(RESPONSES[b"stream"])  # type: ignore[attr-defined]
            else:
                self.transport.write(RESPONSES.get(path, OTHER))  # type: ignore[attr-defined]


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Http, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    port = int(sys.argv[1])
    try:
        import uvloop

        uvloop.run(serve(port))
    except ImportError:
        asyncio.run(serve(port))


if __name__ == "__main__":
    main()
