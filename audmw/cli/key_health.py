"""``audmw keys``: fetch each issuer's keys now and show the health of the key sources.

The same view ``audmw.health`` gives a running app (per issuer: when its keys were fetched,
how many are published, the last error, when the next refresh is due), for the settings on
the command line or in the ``AUDMW_*`` environment; or, with ``--url``, the view a running
app's health route answers.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import httpx

from audmw.cli.console import Console, safe
from audmw.errors import ConfigurationError
from audmw.health import report
from audmw.inspection import relative_time
from audmw.settings import ENV_PREFIX, Settings
from audmw.validator import TokenValidator

HEALTHY, UNHEALTHY, NOT_CHECKED = 0, 1, 2
# Keys are fetched without a token, so the audience is never compared: any value will do.
_STAND_IN_AUDIENCE = "https://audience.invalid"


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "keys",
        help="fetch each issuer's keys now and show the health of the key sources",
        description="Fetch the keys of each configured issuer as your API would (discovery, "
        "then JWKS) and show, per issuer, when they were fetched, how many are published, the "
        "last error and when the next refresh is due. Options default to the AUDMW_* "
        "environment. With --url, show what a running app's health route answers instead. "
        "Exit status: 0 healthy, 1 unhealthy, 2 could not check.",
    )
    parser.add_argument("--issuer", help="the issuer (comma list; AUDMW_ISSUER)")
    parser.add_argument("--jwks-uri", dest="jwks_uri", help="the key set URL (AUDMW_JWKS_URI)")
    parser.add_argument("--timeout", help="seconds per fetch (AUDMW_HTTP_TIMEOUT)")
    parser.add_argument(
        "--url", help="a running app's health route, answering audmw.health.report() as JSON"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(run=run)


def _settings(args: argparse.Namespace, environ: Mapping[str, str]) -> Settings:
    overrides: dict[str, Any] = {
        name: value
        for name, value in (
            ("issuer", args.issuer),
            ("jwks_uri", args.jwks_uri),
            ("http_timeout", args.timeout),
        )
        if value is not None
    }
    if not environ.get(ENV_PREFIX + "AUDIENCE", "").strip():
        overrides["audience"] = _STAND_IN_AUDIENCE
    return Settings.from_env(environ, **overrides)


class _Quiet(logging.Handler):
    """Keeps the key cache's warnings (shown in the report) off stderr while fetching."""

    def emit(self, record: logging.LogRecord) -> None:
        pass


def _fetched(settings: Settings) -> dict[str, Any]:
    validator = TokenValidator(settings)
    logger = logging.getLogger("audmw")
    quiet = _Quiet(logging.WARNING)
    logger.addHandler(quiet)
    try:
        for keys in {id(keys): keys for keys in validator.keys.values()}.values():
            keys.refresh(keys.generation)
    finally:
        logger.removeHandler(quiet)
    return report(validator)


def _answered(url: str, settings_timeout: float) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=settings_timeout, headers={"Accept": "application/json"})
        document = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise ConfigurationError(f"{url} did not answer a health report ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("key_sources"), list):
        raise ConfigurationError(f"{url} answered JSON that is not a health report")
    return document


def run(args: argparse.Namespace, console: Console) -> int:
    try:
        if args.url:
            document = _answered(args.url, float(args.timeout or 5))
        else:
            document = _fetched(_settings(args, console.environ))
    except (ConfigurationError, ValueError) as problem:
        message = str(problem).removeprefix("audmw: ")
        if args.json:
            console.json({"error": message})
        else:
            console.err(f"audmw keys: {message}")
        return NOT_CHECKED
    if args.json:
        console.json(document)
    else:
        _print(document, console)
    return HEALTHY if document.get("healthy") is True else UNHEALTHY


_STATE_STYLES = {"ok": "pass", "unfetched": "dim", "stale": "warn", "unavailable": "fail"}


def _print(document: Mapping[str, Any], console: Console) -> None:
    now = console.clock()
    for source in document.get("key_sources", []):
        if not isinstance(source, Mapping):
            continue
        state = str(source.get("state"))
        issuers = ", ".join(safe(str(issuer)) for issuer in source.get("issuers", []))
        style = _STATE_STYLES.get(state, "dim")
        console.out(f"{console.paint(issuers, 'bold')}  {console.paint(state, style)}")
        rows = [
            ("keys", f"{source.get('keys')} published"),
            ("fetched", _when(source.get("fetched_at"), now)),
            ("next refresh", _when(source.get("next_refresh"), now)),
        ]
        if source.get("jwks_uri"):
            rows.append(("jwks_uri", safe(str(source["jwks_uri"]))))
        if source.get("last_error"):
            rows.append(("last error", safe(str(source["last_error"]))))
        rows.append(("fetches", str(source.get("fetches"))))
        for label, value in rows:
            console.out(f"  {label:<13}{value}")
    healthy = document.get("healthy") is True
    console.out(console.paint("healthy", "pass") if healthy else console.paint("unhealthy", "fail"))


def _when(iso: Any, now: float) -> str:
    if iso is None:
        return "never"
    try:
        moment = datetime.strptime(str(iso), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return safe(str(iso))
    return f"{iso} ({relative_time('at', moment.timestamp(), now)})"
