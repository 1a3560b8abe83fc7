"""``python -m example_apps.caller --api URL ...``: the calling service of ``audmw.examples``."""

from audmw.examples.caller import call, main

__all__ = ["call", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
