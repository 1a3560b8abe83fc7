"""``python -m audmw``: the ``audmw`` command."""

import sys

from audmw.cli import main

sys.exit(main())
