"""``python -m adversarial.serve <app> <server> --port P``: a contract app that logs refusals.

The corpus reads each refusal's reason code from the server's log, so the ``audmw`` logger
prints to stderr (``audmw.log_refusals()``) before the app is built.
"""

from __future__ import annotations

import sys

from contract.serve import main

from audmw import log_refusals

if __name__ == "__main__":
    log_refusals()
    sys.exit(main())
