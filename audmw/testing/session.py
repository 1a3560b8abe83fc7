"""One ``LocalIssuer`` for a whole test run.

An app built once (at import, or in a session fixture) keeps the issuer URL and keys it was
given: every test must mint its tokens with that same issuer. ``session_issuer()`` can be
called from a ``conftest.py`` or a test ``settings.py``, before any fixture runs, and the
``audmw_session_issuer`` fixture gives the same issuer.
"""

from __future__ import annotations

import atexit
import threading

from audmw.testing.issuer import LocalIssuer

_lock = threading.Lock()
_started: list[LocalIssuer] = []  # at most one: the issuer of this process


def session_issuer() -> LocalIssuer:
    """The issuer of this process: started on the first call, then the same URL and keys
    until the process ends."""
    with _lock:
        if not _started:
            issuer = LocalIssuer().start()
            atexit.register(issuer.stop)
            _started.append(issuer)
        return _started[0]
