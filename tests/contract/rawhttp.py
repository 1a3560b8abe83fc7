"""A small HTTP/1.1 client over one kept-alive socket that sends the request target as is.

Clients such as httpx normalise paths (dot-segments, '//'); the contract is about exactly
the bytes a server receives.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

NO_BODY_STATUSES = frozenset({204, 304})


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]  # names in lower case, in the order received
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]


class ServerClosed(ConnectionError):
    """The server closed the connection before answering."""


class RawClient:
    def __init__(self, host: str, port: int, timeout: float = 15.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self._socket: socket.socket | None = None
        self._reader: BinaryIO | None = None

    def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> Response:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        if method == "HEAD":
            # Some stacks (Django under waitress) send the body of a HEAD answer anyway; on a
            # connection of its own the stray bytes cannot be read as the next answer.
            lines.append("Connection: close")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        for attempt in range(2):
            fresh = self._socket is None
            sock, reader = self._connect()
            try:
                sock.sendall(data)
                response, keep_open = _read_response(reader, method)
            except (ServerClosed, ConnectionResetError, BrokenPipeError):
                self.close()
                if fresh or attempt:
                    raise
                continue  # a kept-alive connection the server had closed: once more
            if not keep_open:
                self.close()
            return response
        raise AssertionError("unreachable")

    def _connect(self) -> tuple[socket.socket, BinaryIO]:
        if self._socket is None or self._reader is None:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._socket, self._reader = sock, sock.makefile("rb")
        return self._socket, self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        if self._socket is not None:
            self._socket.close()
        self._socket = self._reader = None


def _read_line(reader: BinaryIO) -> bytes:
    line = reader.readline(65537)
    if not line:
        raise ServerClosed("connection closed")
    return line.rstrip(b"\r\n")


def _read_response(reader: BinaryIO, method: str) -> tuple[Response, bool]:
    status_line = _read_line(reader).decode("latin-1")
    version, _, rest = status_line.partition(" ")
    status = int(rest[:3])
    headers: list[tuple[str, str]] = []
    while line := _read_line(reader):
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))
    found = dict(headers)
    keep_open = found.get("connection", "").lower() != "close" and version == "HTTP/1.1"
    if method == "HEAD":
        reader.read()  # whatever the server sent after the head, up to its close
        body, keep_open = b"", False
    elif status in NO_BODY_STATUSES or status < 200:
        body = b""
    elif found.get("transfer-encoding", "").lower() == "chunked":
        body = _read_chunked(reader)
    elif "content-length" in found:
        body = _read_exactly(reader, int(found["content-length"]))
    else:
        body, keep_open = reader.read(), False
    return Response(status, tuple(headers), body), keep_open


def _read_exactly(reader: BinaryIO, size: int) -> bytes:
    data = reader.read(size)
    if len(data) != size:
        raise ServerClosed("connection closed inside the body")
    return data


def _read_chunked(reader: BinaryIO) -> bytes:
    chunks = []
    while size := int(_read_line(reader).split(b";")[0], 16):
        chunks.append(_read_exactly(reader, size))
        _read_line(reader)
    while _read_line(reader):  # trailers
        pass
    return b"".join(chunks)
