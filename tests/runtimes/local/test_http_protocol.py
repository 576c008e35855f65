"""The local server against slow and careless clients, over real sockets to a real ``voice-gateway dev`` process:
headers that trickle in are cut off with a 408, idle kept-alive connections are closed, and a response sent before
the request body was read (413, 401) reaches clients that write the whole body first instead of a reset — while a
client that never stops sending is still cut off after a bounded amount."""

from __future__ import annotations

import http.client
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_local_server import ADMIN, LocalServer

HEADER_TIMEOUT = 1.0
LINGER_BYTES = 40 * 1024 * 1024
UPLOAD = b"\0" * (30 * 1024 * 1024)  # over the 25 MB audio limit


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    env = {"ADMIN_TOKEN": ADMIN, "HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT), "KEEP_ALIVE_SECONDS": "1",
           "LINGER_BYTES": str(LINGER_BYTES), "LINGER_SECONDS": "5",
           "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")}  # fmt: skip
    srv = LocalServer(tmp_path_factory.mktemp("state"), env)
    try:
        srv.wait_ready()
        yield srv
    finally:
        srv.stop()


def _closed_within(sock: socket.socket, seconds: float) -> bytes | None:
    """What the server sent before closing, or None if it still had not closed after ``seconds``."""
    sock.settimeout(0.1)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


def test_fifty_clients_trickling_headers_are_all_cut_off(server: LocalServer) -> None:
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(50)]
    try:
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        started = time.monotonic()
        sent = 0
        open_ = list(socks)
        while open_ and time.monotonic() - started < HEADER_TIMEOUT * 5:  # byte by byte, never finishing
            for sock in list(open_):
                try:
                    sock.send(request[sent % len(request) : sent % len(request) + 1])
                except OSError:
                    open_.remove(sock)
            sent += 1
            time.sleep(0.05)
        answers = [_closed_within(sock, HEADER_TIMEOUT * 5) for sock in socks]
        assert all(a is not None for a in answers), f"{answers.count(None)} of 50 connections were never closed"
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers if a), answers[:3]
    finally:
        for sock in socks:
            sock.close()


def test_headers_that_arrive_in_time_are_served(server: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        for piece in (b"GET /health HTTP/1.1\r\n", b"Host: x\r\n", b"Connection: close\r\n", b"\r\n"):
            sock.sendall(piece)
            time.sleep(HEADER_TIMEOUT / 8)
        answer = _closed_within(sock, 5)
    assert answer is not None and answer.startswith(b"HTTP/1.1 200"), answer


def test_an_idle_kept_alive_connection_is_closed(server: LocalServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = _closed_within(sock, 5)
    assert answer is not None and answer.startswith(b"HTTP/1.1 200"), "the idle connection stayed open"


def _urllib(server: LocalServer, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = urllib.request.Request(server.url + path, data=UPLOAD, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _http_client(server: LocalServer, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """http.client (what ``requests`` sends with): keep-alive, the whole body written before reading."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        conn.request("POST", path, body=UPLOAD, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _chunked(server: LocalServer, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """No Content-Length: the limit is only found out while reading the body."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        pieces = (UPLOAD[i : i + 1024 * 1024] for i in range(0, len(UPLOAD), 1024 * 1024))
        conn.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize("client", [_urllib, _http_client, _chunked])
def test_an_early_response_reaches_a_client_that_writes_the_whole_body_first(server: LocalServer, client) -> None:  # type: ignore[no-untyped-def]
    key = server.dev_key()
    status, body = client(server, "/voice/transcribe", {"Authorization": f"Bearer {key}", "Content-Type": "audio/wav"})
    assert status == 413 and b"payload_too_large" in body
    status, body = client(server, "/voice/transcribe", {"Authorization": "Bearer nope", "Content-Type": "audio/wav"})
    assert status == 401 and b"unauthorized" in body


def test_a_client_that_never_stops_sending_is_cut_off(server: LocalServer) -> None:
    key = server.dev_key()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(f"POST /voice/transcribe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
                     f"Content-Type: audio/wav\r\nContent-Length: {10**12}\r\n\r\n".encode())  # fmt: skip
        sent, cut = 0, False
        chunk = bytes(1024 * 1024)
        while sent < LINGER_BYTES * 3:
            try:
                sock.sendall(chunk)
            except OSError:
                cut = True
                break
            sent += len(chunk)
        assert cut, f"the server kept reading {sent} bytes after its answer"
