"""The demo: a local issuer, an example API protected by audmw, accepted and refused requests.

    audmw demo [--framework starlette|fastapi|django|flask|core] [--issuer local|oidc-provider]

(``./run demo`` in a checkout.) For each request it prints the status, the
``WWW-Authenticate`` challenge the client sees and the reason code the server logged. Then a
calling service (``audmw.examples.caller``) gets its own token by client credentials: asked
for this API it is let in; asked for another API, it is refused and the server logs the fix.
``--framework core`` skips the web server and runs the same tokens through ``audmw.Guard``
directly; it is the default when Starlette or uvicorn is not installed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import queue
import re
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from audmw.client import ClientCredentials
from audmw.errors import AuthError
from audmw.examples import EXAMPLES
from audmw.examples.caller import call
from audmw.guard import Guard
from audmw.request import IncomingRequest
from audmw.requirements import Requirement
from audmw.settings import Settings
from audmw.testing import LocalIssuer

AUDIENCE = "https://api.example.com"
FRAMEWORKS = ("starlette", "fastapi", "django", "flask", "core")
_REASON = re.compile(r"reason=([a-z_]+)(?:.*? — (.*))?")


@dataclass
class Case:
    title: str
    method: str
    path: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    expect: int = 200


def cases(mint: Callable[..., str | None]) -> list[Case]:
    """The walk-through; ``mint(aud=..., scopes=..., **claims)`` returns a token.

    ``mint`` returns None for a token its issuer cannot produce; that case is left out.
    """
    reader = mint(scopes="read:messages")
    assert reader is not None
    every = [
        Case("public route, no token", "GET", "/public"),
        Case("no token", "GET", "/api/me", expect=401),
        Case("valid token for this API", "GET", "/api/me", _bearer(reader)),
        Case(
            "token for another API (wrong audience)",
            "GET",
            "/api/me",
            _bearer(mint(aud="https://reports.example.com", scopes="read:messages")),
            401,
        ),
        Case(
            "token whose audience is only the userinfo URL",
            "GET",
            "/api/me",
            _bearer(mint(aud="https://tenant.example.com/userinfo")),
            401,
        ),
        Case("expired token", "GET", "/api/me", _bearer(mint(expires_in=-3600)), 401),
        Case(
            "ID token sent as an access token",
            "GET",
            "/api/me",
            _bearer(mint(typ="JWT", nonce="n-0S6_WzA2Mj", aud=AUDIENCE)),
            401,
        ),
        Case("opaque token", "GET", "/api/me", _bearer(mint(opaque=True) or ""), 401),
        Case("read:messages granted", "GET", "/api/messages", _bearer(reader)),
        Case(
            "write:messages missing",
            "POST",
            "/api/messages",
            _bearer(reader),
            403,
        ),
        Case(
            "write:messages granted",
            "POST",
            "/api/messages",
            _bearer(mint(scopes="write:messages")),
            201,
        ),
        Case(
            "admin missing (needs read:messages and admin)",
            "GET",
            "/api/admin",
            _bearer(reader),
            403,
        ),
        Case(
            "read:messages and admin granted",
            "GET",
            "/api/admin",
            _bearer(mint(scopes="read:messages admin")),
        ),
        Case(
            "two Authorization headers",
            "GET",
            "/api/me",
            _bearer(reader) + _bearer(reader),
            400,
        ),
    ]
    return [case for case in every if all(value != "Bearer " for _, value in case.headers)]


def _bearer(token: str | None) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token or ''}")]


def _local_mint(issuer: LocalIssuer) -> Callable[..., str | None]:
    def mint(*, opaque: bool = False, **claims: Any) -> str | None:
        # A random reference token, as a provider issues without an audience parameter.
        return "x7Fq2LrV9pK3sT1mN8bW" if opaque else issuer.mint(**claims)

    return mint


# -- output ---------------------------------------------------------------------------------


def _colour(enabled: bool) -> Callable[[str, str], str]:
    codes = {"green": "32", "red": "31", "yellow": "33", "dim": "2", "bold": "1"}

    def paint(text: str, name: str) -> str:
        return f"\033[{codes[name]}m{text}\033[0m" if enabled else text

    return paint


def report(
    case: Case,
    status: int,
    challenge: str | None,
    reason: tuple[str, str | None] | None,
    paint: Any,
) -> bool:
    ok = status == case.expect
    verdict = "accepted" if status < 300 else "refused"
    mark = paint("✓", "green") if ok else paint("✗ expected " + str(case.expect), "red")
    colour = "green" if status < 300 else "yellow" if status < 500 else "red"
    print(f"{mark} {case.method:<4} {case.path:<14} {case.title}")
    line = f"    {paint(str(status), colour)} {verdict}"
    if reason:
        line += f"   server log: reason={paint(reason[0], 'bold')}"
    print(line)
    if challenge:
        print(paint(f"    WWW-Authenticate: {challenge}", "dim"))
    if reason and reason[1]:
        print(f"    fix: {reason[1]}")
    return ok


# -- the example app as a real server ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_app(framework: str, env: dict[str, str]) -> Iterator[tuple[str, queue.Queue[str]]]:
    """Serve the framework's app of ``audmw.examples``; yield its URL and its log lines."""
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", EXAMPLES[framework].module, "--port", str(port)],
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise SystemExit(
                    f"the {framework} example app exited with {process.returncode}:\n"
                    + "\n".join(_drain(lines))
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/public", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"the {framework} example app did not start within 30 s")
            time.sleep(0.1)
        yield url, lines
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _drain(lines: queue.Queue[str]) -> list[str]:
    drained = []
    with contextlib.suppress(queue.Empty):
        while True:
            drained.append(lines.get_nowait())
    return drained


def _reason_from(lines: queue.Queue[str], wait: bool) -> tuple[str, str | None] | None:
    deadline = time.monotonic() + (1.0 if wait else 0.05)
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        match = _REASON.search(line)
        if match:
            return match.group(1), match.group(2)


@dataclass
class Caller:
    """How the calling service asks for its tokens: the client, and the right and a wrong
    target as keyword arguments of ``ClientCredentials``."""

    issuer: str
    client_id: str
    client_secret: str
    right: dict[str, Any]
    wrong: dict[str, Any]


def run_http(
    framework: str,
    issuer: str,
    mint: Callable[..., str | None],
    paint: Any,
    caller: Caller | None = None,
) -> bool:
    env = {"AUDMW_ISSUER": issuer, "AUDMW_AUDIENCE": AUDIENCE}
    ok = True
    with serve_app(framework, env) as (url, lines), httpx.Client(base_url=url) as client:
        print(f"{framework} example app on {url}, trusting {issuer} for audience {AUDIENCE}\n")
        _drain(lines)
        for case in cases(mint):
            response = client.request(case.method, case.path, headers=case.headers)
            reason = _reason_from(lines, wait=response.status_code >= 400)
            ok &= report(
                case, response.status_code, response.headers.get("www-authenticate"), reason, paint
            )
        if caller is not None:
            ok &= run_caller(url, lines, caller, paint)
    return ok


def run_caller(url: str, lines: queue.Queue[str], caller: Caller, paint: Any) -> bool:
    """The calling service (``audmw.examples.caller``): client credentials for the API."""
    print(f"\nthe calling service, client {caller.client_id} (client credentials)\n")
    ok = True
    for target, expect in ((caller.right, 200), (caller.wrong, 401)):
        asked = ", ".join(f"{name}={value}" for name, value in target.items())
        auth = ClientCredentials(
            issuer=caller.issuer,
            client_id=caller.client_id,
            client_secret=caller.client_secret,
            scope="read:messages",
            **target,
        )
        _drain(lines)
        response = call(url, auth)
        reason = _reason_from(lines, wait=response.status_code >= 400)
        case = Case(f"token requested with {asked}", "GET", "/api/messages", expect=expect)
        ok &= report(
            case, response.status_code, response.headers.get("www-authenticate"), reason, paint
        )
    return ok


# -- the same tokens through the core alone --------------------------------------------------

_ROUTES = {
    ("GET", "/public"): None,
    ("GET", "/api/me"): Requirement(),
    ("GET", "/api/messages"): Requirement.of(["read:messages"]),
    ("POST", "/api/messages"): Requirement.of(["write:messages"]),
    ("GET", "/api/admin"): Requirement.of(["read:messages", "admin"]),
}


def run_core(issuer: str, mint: Callable[..., str | None], paint: Any) -> bool:
    guard = Guard(Settings(issuer=issuer, audience=AUDIENCE))
    print(f"audmw.Guard trusting {issuer} for audience {AUDIENCE}\n")
    ok = True
    for case in cases(mint):
        requirement = _ROUTES[(case.method, case.path)]
        if requirement is None:
            ok &= report(case, 200, None, None, paint)
            continue
        values = tuple(value for name, value in case.headers if name == "Authorization")
        try:
            guard.authorize(IncomingRequest(case.method, case.path, values), requirement)
        except AuthError as error:
            answer = guard.answer(error)
            challenge = dict(answer.headers).get("WWW-Authenticate")
            ok &= report(case, answer.status, challenge, (error.reason, error.hint), paint)
        else:
            ok &= report(case, 201 if case.method == "POST" else 200, None, None, paint)
    return ok


def choose_framework(asked: str | None) -> str:
    """The framework to run: the one asked for, or Starlette, or the core when Starlette is
    not installed. ``LookupError`` says what to install for a framework asked for."""
    if asked == "core":
        return asked
    example = EXAMPLES[asked or "starlette"]
    missing = example.missing()
    if not missing:
        return example.framework
    needs = f"needs {' and '.join(missing)}: pip install {example.install}"
    if asked is not None:
        raise LookupError(f"--framework {asked} {needs}")
    print(
        f"note: the Starlette example app {needs}; running the same requests through the "
        "core instead\n",
        file=sys.stderr,
    )
    return "core"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="audmw demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--framework",
        choices=FRAMEWORKS,
        help="the example app to serve, or core for no server (default: starlette when "
        "Starlette and uvicorn are installed, else core)",
    )
    parser.add_argument("--issuer", choices=("local", "oidc-provider"), default="local")
    args = parser.parse_args(argv)
    try:
        framework = choose_framework(args.framework)
    except LookupError as missing:
        parser.error(str(missing))
    paint = _colour(sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    with contextlib.ExitStack() as stack:
        if args.issuer == "oidc-provider":
            issuer_url, mint, caller = stack.enter_context(_oidc_provider())
        else:
            local = stack.enter_context(LocalIssuer())
            issuer_url, mint, caller = local.issuer, _local_mint(local), _local_caller(local)
        if framework == "core":
            ok = run_core(issuer_url, mint, paint)
        else:
            ok = run_http(framework, issuer_url, mint, paint, caller)
    print("\nall requests answered as expected" if ok else "\nSOME ANSWERS WERE UNEXPECTED")
    return 0 if ok else 1


def _local_caller(issuer: LocalIssuer) -> Caller:
    secret = secrets.token_urlsafe(16)
    issuer.register_client("caller-service", secret=secret)
    return Caller(
        issuer.issuer,
        "caller-service",
        secret,
        {"audience": AUDIENCE},
        {"audience": "https://reports.example.com"},
    )


@contextlib.contextmanager
def _oidc_provider() -> Iterator[tuple[str, Callable[..., str | None], Caller]]:
    """oidc-provider (Node.js) from the end-to-end tests, issuing tokens the way clients ask."""
    path = Path(__file__).resolve().parent.parent / "tests" / "e2e" / "provider.py"
    spec = importlib.util.spec_from_file_location("audmw_e2e_provider", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path} is missing: --issuer oidc-provider needs a source checkout")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        provider = module.OidcProvider()
        provider.start()
    except module.ProviderUnavailable as exc:
        raise SystemExit(str(exc)) from None
    known = {module.API, module.OTHER_API}

    def mint(
        *, aud: str = AUDIENCE, scopes: str = "", opaque: bool = False, **claims: Any
    ) -> str | None:
        if claims or aud not in known:
            return None  # expired or ID-token shapes: a real provider does not issue them
        if opaque:  # client credentials without resource=: an opaque reference token
            return str(provider.get_token(None, "read:messages"))
        scope = scopes if aud == module.API else " ".join(module.OTHER_API_SCOPES)
        return str(provider.get_token(aud, scope or None))

    try:
        print(f"oidc-provider on {provider.issuer}: tokens by POST /token, client_credentials")
        print(f"  with resource={AUDIENCE} and scope=...\n")
        client_id, secret = provider.clients["RS256"]
        caller = Caller(
            provider.issuer,
            client_id,
            secret,
            {"resource": AUDIENCE},
            {"resource": module.OTHER_API},
        )
        yield provider.issuer, mint, caller
    finally:
        provider.stop()


if __name__ == "__main__":
    raise SystemExit(main())
