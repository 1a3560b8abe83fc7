"""Which view ran: views append "<request id> <view name>" to a file, tests read it back."""

from __future__ import annotations

import os
from pathlib import Path

from contract import spec


def record(request_id: str | None, name: str) -> None:
    """Called by every view of the apps, before it answers."""
    path = os.environ.get(spec.RAN_LOG_VARIABLE)
    if path and request_id:
        # One short write in append mode: lines from several threads do not interleave.
        with open(path, "a", encoding="utf-8") as log:
            log.write(f"{request_id} {name}\n")


class RanLog:
    """The test side: the entries the server wrote since the last read, by request id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""

    def read_new(self) -> dict[str, str]:
        try:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
        except FileNotFoundError:
            return {}
        self._offset += len(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        entries: dict[str, str] = {}
        for line in lines:
            request_id, _, name = line.decode().partition(" ")
            entries[request_id] = name
        return entries
