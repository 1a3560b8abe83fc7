"""A time limit over a whole blocking HTTP exchange, connect to last byte.

httpx's timeouts bound each read, so a server sending its status line and headers a byte at
a time holds a blocking request for as long as it likes. ``Watchdog`` shuts the exchange's
sockets down when the limit passes, which wakes the read blocked on them at once. The
sockets come from httpcore's ``trace`` extension; DNS resolution is the one part it cannot
cut short. Async code needs none of this: ``asyncio.wait_for`` cancels wherever it waits.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Watchdog"]


class Watchdog:
    """Shuts the sockets of the requests it traces down once ``expire`` is called."""

    def __init__(self) -> None:
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.expired = False

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        """httpcore's ``trace`` extension: set it on each request the limit covers."""
        if not event.endswith((".connect_tcp.complete", ".start_tls.complete")):
            return
        get_extra_info = getattr(info.get("return_value"), "get_extra_info", None)
        sock = get_extra_info("socket") if get_extra_info is not None else None
        if isinstance(sock, socket.socket):
            with self._lock:
                self._sockets.append(sock)
                if self.expired:
                    _shut_down(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut_down(sock)

    @contextlib.contextmanager
    def limit(self, timeout: float) -> Iterator[None]:
        """One exchange of a client whose requests are traced, within ``timeout`` seconds:
        past it the sockets are shut down and ``TimeoutError`` is raised, whatever the
        exchange raised or returned. The watchdog is ready for the next exchange after."""
        timer = threading.Timer(timeout, self.expire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            with self._lock:
                expired, self.expired = self.expired, False
                if expired:
                    self._sockets.clear()  # all shut down: the pool drops them
            if expired:
                raise TimeoutError(f"the exchange took longer than {timeout} s")


def _shut_down(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed, or detached when TLS took it over
        sock.shutdown(socket.SHUT_RDWR)
