"""The local runtime's vendor transport (runtimes.local.http_client.KeepAliveTransport) against real servers on
127.0.0.1: connections are kept alive and reused, a connection the vendor closed is replaced without failing the
call, a body not read to its end never carries another request, large bodies stream with flow control, and TLS
is verified."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
from pathlib import Path

import httpx
import pytest

from runtimes.local.http_client import KeepAliveTransport, VendorClient, vendor_http_client


class RawServer:
    """A tiny HTTP/1.1 server (asyncio streams) that counts connections and answers each request with ``reply``."""

    def __init__(self, body: bytes = b"hello", *, close_after: bool = False, chunked: bool = False) -> None:
        self.body = body
        self.close_after = close_after
        self.chunked = chunked
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                if self.chunked:
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    for piece in (self.body[i : i + 65536] for i in range(0, len(self.body), 65536)):
                        writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                        await writer.drain()
                    writer.write(b"0\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(self.body), self.body))
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=ssl_context)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, ssl.SSLError):
                pass
        await self.server.wait_closed()


async def get(client: httpx.AsyncClient, url: str) -> bytes:
    response = await client.send(client.build_request("POST", httpx.URL(url), json={"a": 1}, timeout=5), stream=True)
    body = b"".join([chunk async for chunk in response.aiter_bytes()])
    await response.aclose()
    assert response.status_code == 200
    return body


async def test_one_connection_carries_request_after_request() -> None:
    server = RawServer()
    port = await server.start()
    async with vendor_http_client() as client:
        for _ in range(5):
            assert await get(client, f"http://127.0.0.1:{port}/v1/x") == b"hello"
    await server.stop()
    assert server.connections == 1 and len(server.requests) == 5
    assert server.requests[0].startswith(b"POST /v1/x HTTP/1.1\r\n") and server.requests[0].endswith(b'{"a":1}')


async def test_a_connection_the_vendor_closed_is_replaced_without_failing_the_call() -> None:
    server = RawServer(close_after=True)  # answers once per connection, then hangs up (an idle timeout, say)
    port = await server.start()
    async with vendor_http_client() as client:
        for _ in range(3):
            assert await get(client, f"http://127.0.0.1:{port}/") == b"hello"
            await asyncio.sleep(0.05)
    await server.stop()
    assert server.connections == 3


async def test_a_body_not_read_to_its_end_does_not_carry_another_request() -> None:
    server = RawServer(body=b"x" * 3_000_000, chunked=True)
    port = await server.start()
    async with vendor_http_client() as client:
        request = client.build_request("POST", httpx.URL(f"http://127.0.0.1:{port}/"), content=b"", timeout=5)
        response = await client.send(request, stream=True)
        async for _ in response.aiter_bytes():
            break  # the client stopped listening after the first piece
        await response.aclose()
        assert len(await get(client, f"http://127.0.0.1:{port}/")) == 3_000_000  # streamed whole, paused and resumed
    await server.stop()
    assert server.connections == 2


async def test_a_vendor_that_never_answers_is_a_read_timeout_and_a_refusal_a_connect_error() -> None:
    stalled: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stalled.append(writer)  # reads the request, never answers

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with vendor_http_client() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.send(
                client.build_request("POST", httpx.URL(f"http://127.0.0.1:{port}/"), json={}, timeout=0.2)
            )
    server.close()
    for writer in stalled:
        writer.close()
    await server.wait_closed()
    async with vendor_http_client() as client:
        with pytest.raises(httpx.ConnectError):
            await client.send(client.build_request("GET", httpx.URL(f"http://127.0.0.1:{port}/"), timeout=1))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cryptography, as the local runtime already depends on it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder / "cert.pem", folder / "key.pem"


async def test_tls_is_verified(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    server = RawServer(body=b"secure")
    port = await server.start(server_context)
    trusting = ssl.create_default_context(cafile=str(cert))
    async with VendorClient(KeepAliveTransport(trusting)) as c:
        assert await get(c, f"https://127.0.0.1:{port}/") == b"secure"
    async with vendor_http_client() as default:  # the public CA bundle does not know this certificate
        with pytest.raises(httpx.ConnectError):
            await get(default, f"https://127.0.0.1:{port}/")
    await server.stop()


async def test_a_connection_that_spoke_while_idle_is_not_reused() -> None:
    """A vendor may send a 408 on an idle kept-alive connection before closing it: that is not the next answer."""
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")  # idle timeout, socket kept open
        await writer.drain()
        await asyncio.sleep(1)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with vendor_http_client() as client:
        assert await get(client, f"http://127.0.0.1:{port}/") == b"hello"
        await asyncio.sleep(0.2)  # the 408 arrives on the idle connection
        assert await get(client, f"http://127.0.0.1:{port}/") == b"hello"
    server.close()
    await asyncio.sleep(1.1)
    assert connections == 2


async def test_a_complete_body_left_unread_with_reading_paused_leaves_a_usable_connection() -> None:
    server = RawServer(body=b"y" * 1_100_000)  # just over the buffer limit: reading pauses as the body completes
    port = await server.start()
    async with vendor_http_client() as client:
        request = client.build_request("POST", httpx.URL(f"http://127.0.0.1:{port}/"), content=b"", timeout=2)
        response = await client.send(request, stream=True)
        await asyncio.sleep(0.2)  # the whole body has arrived, most of it unread
        async for _ in response.aiter_bytes():
            break
        await response.aclose()
        assert len(await get(client, f"http://127.0.0.1:{port}/")) == 1_100_000
    await server.stop()
    assert server.connections == 1
