"""``python -m contract.django_project.run_checks``: ``manage.py check`` for AUDMW variants.

Reads ``{"<name>": {<AUDMW keys to override>}}`` as JSON on stdin and prints
``{"<name>": {"refused": bool, "output": str}}``: whether ``check`` stopped with errors, and
what it said.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Any


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contract.django_project.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.test import override_settings

    results: dict[str, dict[str, Any]] = {}
    for name, overrides in json.load(sys.stdin).items():
        output = io.StringIO()
        with override_settings(AUDMW={**settings.AUDMW, **overrides}):
            try:
                call_command("check", stdout=output, stderr=output)
            except SystemCheckError as error:
                results[name] = {"refused": True, "output": f"{output.getvalue()}{error}"}
            else:
                results[name] = {"refused": False, "output": output.getvalue()}
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
