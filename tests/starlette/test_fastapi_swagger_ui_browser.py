"""Swagger UI in headless Chromium, against the FastAPI example app served by uvicorn.

The browser loads ``/docs`` and the OpenAPI document without a token, shows the documented
refusals, is refused when it calls an operation without a token, and is let in once the
token is typed into Swagger UI's Authorize dialog. With ``AUDMW_DOCS_TOKEN_URL`` pointing at
the local issuer's token endpoint, the dialog obtains the token itself by client credentials
(a cross-origin POST the issuer allows).

What the test needs it installs: Debian's ``chromium`` package (when it runs as root with
apt-get, as CI does; otherwise it fails and says what to install), and Swagger UI's files
from the npm registry (FastAPI's page loads them from a CDN, which the browser is pointed to
a local HTTPS server for; every other host name resolves to nothing, so no request leaves
the machine).
"""

from __future__ import annotations

import datetime
import http.server
import itertools
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from websockets.sync.client import ClientConnection, connect

from audmw.testing import LocalIssuer

ROOT = Path(__file__).resolve().parents[2]
AUDIENCE = "https://api.example.com"
SWAGGER_UI = "5.35.0"  # the major version FastAPI's page asks for: swagger-ui-dist@5
CDN_HOST = "cdn.jsdelivr.net"  # where FastAPI's Swagger UI page loads its script and styles
ASSETS_PREFIX = "/npm/swagger-ui-dist@"
TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- what the test installs ------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> str:
    """The path of a headless-capable Chromium, installed from Debian's packages if need be."""
    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
            subprocess.run(install, env=env, capture_output=True, check=False)
        found = shutil.which("chromium")
    if found is None:
        pytest.fail(
            "this test drives Swagger UI in headless Chromium: install it "
            "(Debian/Ubuntu: apt-get install chromium), or run the tests as root with apt-get"
        )
    return found


@pytest.fixture(scope="module")
def swagger_ui(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Swagger UI's distribution files, from the npm registry."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("this test fetches Swagger UI's files with npm: install Node.js and npm")
    folder = tmp_path_factory.mktemp("swagger-ui")
    packed = subprocess.run(
        [npm, "pack", f"swagger-ui-dist@{SWAGGER_UI}", "--silent", "--pack-destination", folder],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    archives = list(folder.glob("swagger-ui-dist-*.tgz"))
    assert packed.returncode == 0, packed.stderr[-2000:]
    assert len(archives) == 1
    with tarfile.open(archives[0]) as archive:
        archive.extractall(folder, filter="data")
    assert (folder / "package" / "swagger-ui-bundle.js").is_file()
    return folder / "package"


# -- the servers -----------------------------------------------------------------------------


class AssetsServer:
    """HTTPS on 127.0.0.1 standing in for the CDN: Swagger UI's files, nothing else."""

    def __init__(self, folder: Path, certificate: Path) -> None:
        served: list[str] = []
        self.served = served

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                _, _, name = path.removeprefix(ASSETS_PREFIX).partition("/")
                file = folder / name
                if not path.startswith(ASSETS_PREFIX) or "/" in name or not file.is_file():
                    self.send_error(404)
                    return
                body = file.read_bytes()
                kind = "text/css" if name.endswith(".css") else "application/javascript"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                served.append(name)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificate)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed(folder: Path, host: str) -> Path:
    """A certificate and key for ``host`` in one PEM file (the browser ignores its issuer)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = folder / "assets.pem"
    path.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture(scope="module")
def assets(swagger_ui: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AssetsServer]:
    server = AssetsServer(swagger_ui, self_signed(tmp_path_factory.mktemp("tls"), CDN_HOST))
    yield server
    server.close()


def serve_example(issuer: LocalIssuer, **extra: str) -> Iterator[str]:
    """``python -m example_apps.fastapi_app --port P``: the example app under uvicorn."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AUDMW_")},
        "AUDMW_ISSUER": issuer.issuer,
        "AUDMW_AUDIENCE": AUDIENCE,
        **extra,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "example_apps.fastapi_app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                if httpx.get(url + "/public", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the example app exited"
            assert time.monotonic() < deadline, "the example app did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def example_app(issuer: LocalIssuer) -> Iterator[str]:
    yield from serve_example(issuer)


@pytest.fixture(scope="module")
def example_app_with_token_url(issuer: LocalIssuer) -> Iterator[str]:
    yield from serve_example(issuer, AUDMW_DOCS_TOKEN_URL=issuer.token_url)


# -- the browser, over the Chrome DevTools Protocol ------------------------------------------


def launch(executable: str, profile: Path, assets_port: int) -> tuple[subprocess.Popen[bytes], str]:
    """Headless Chromium and the DevTools WebSocket URL of its one page."""
    rules = f"MAP {CDN_HOST} 127.0.0.1:{assets_port}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
    process = subprocess.Popen(
        [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--ignore-certificate-errors",
            f"--host-resolver-rules={rules}",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + TIMEOUT
    while not port_file.is_file() or not port_file.read_text().strip():
        assert process.poll() is None, "Chromium exited"
        assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
        time.sleep(0.1)
    port = int(port_file.read_text().split()[0])
    pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=5).json()
    page = next(target for target in pages if target["type"] == "page")
    return process, str(page["webSocketDebuggerUrl"])


class Browser:
    """The page of a headless Chromium, driven over its DevTools WebSocket."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one DevTools command and return its result (events meanwhile are skipped)."""
        number = next(self._ids)
        self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=TIMEOUT))
            if message.get("id") == number:
                assert "error" not in message, message["error"]
                result: dict[str, Any] = message["result"]
                return result

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"].get("text")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str) -> Any:
        """The value of ``expression`` once it is truthy."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"the page never showed {what}"
            time.sleep(0.1)

    def click(self, selector: str) -> None:
        self.wait_for(f"!!document.querySelector({json.dumps(selector)})", selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def type_into(self, selector: str, text: str) -> None:
        """Focus the field and type ``text`` as keyboard input."""
        self.wait_for(f"!!document.querySelector({json.dumps(selector)})", selector)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.call("Input.insertText", text=text)


@pytest.fixture
def browser(chromium: str, assets: AssetsServer, tmp_path: Path) -> Iterator[Browser]:
    process, page = launch(chromium, tmp_path / "profile", assets.port)
    try:
        with connect(page, max_size=None, open_timeout=TIMEOUT) as socket:
            yield Browser(socket)
    finally:
        process.terminate()
        process.wait(timeout=15)


# -- the flow --------------------------------------------------------------------------------

OPERATION = "#operations-default-list_messages_api_messages_get"
STATUS = f"{OPERATION} .live-responses-table .response .response-col_status"


def test_swagger_ui_loads_and_calls_the_api_with_the_token_typed_in(
    browser: Browser, example_app: str, issuer: LocalIssuer, assets: AssetsServer
) -> None:
    browser.call("Page.enable")
    browser.call("Page.navigate", url=example_app + "/docs")
    # The page needed no token, nor did the document Swagger UI fetched for the operations.
    paths = browser.wait_for(
        "[...document.querySelectorAll('.opblock-summary-path')].map(e => e.dataset.path)",
        "the operations",
    )
    assert sorted(set(paths)) == ["/api/admin", "/api/me", "/api/messages", "/public"]
    assert "swagger-ui-bundle.js" in assets.served
    assert browser.evaluate("!!document.querySelector('.btn.authorize')")

    # The documented answers of GET /api/messages, as Swagger UI lists them.
    browser.click(f"{OPERATION} .opblock-summary-control")
    codes = browser.wait_for(
        f"[...document.querySelectorAll('{OPERATION} .responses-table tr.response')]"
        ".map(row => row.dataset.code)",
        "the documented responses",
    )
    assert codes == ["200", "401", "403"]

    # Try it out without a token: the middleware refuses.
    browser.click(f"{OPERATION} .try-out__btn")
    browser.click(f"{OPERATION} .btn.execute")
    status = browser.wait_for(f"document.querySelector('{STATUS}')?.textContent.trim()", "401")
    assert status == "401"

    # Authorize with a token typed into the dialog, then the same call is let in.
    browser.click(".auth-wrapper .btn.authorize")
    browser.type_into(".modal-ux input[type=text]", issuer.mint(scopes="read:messages"))
    browser.click(".modal-ux .auth-btn-wrapper .btn.authorize")
    browser.click(".modal-ux .btn-done")
    browser.click(f"{OPERATION} .btn-clear")
    browser.click(f"{OPERATION} .btn.execute")
    status = browser.wait_for(f"document.querySelector('{STATUS}')?.textContent.trim()", "200")
    assert status == "200"
    body = browser.evaluate(
        f"document.querySelector('{OPERATION} .live-responses-table .response-col_description"
        " .microlight')?.textContent"
    )
    assert json.loads(body) == {"messages": [{"id": 1, "text": "hello"}]}


def test_the_authorize_dialog_obtains_a_token_by_client_credentials(
    browser: Browser, example_app_with_token_url: str, issuer: LocalIssuer
) -> None:
    issuer.register_client("docs-client", secret="docs-secret")
    requests_before = issuer.token_endpoint.requests
    browser.call("Page.enable")
    browser.call("Page.navigate", url=example_app_with_token_url + "/docs")
    browser.click(f"{OPERATION} .opblock-summary-control")
    browser.click(f"{OPERATION} .try-out__btn")
    browser.click(f"{OPERATION} .btn.execute")
    status = browser.wait_for(f"document.querySelector('{STATUS}')?.textContent.trim()", "401")
    assert status == "401"

    # The dialog offers OAuth2 client credentials against the issuer's token endpoint.
    browser.click(".auth-wrapper .btn.authorize")
    flow = browser.wait_for(
        "document.querySelector('.modal-ux .flow code')?.textContent", "the OAuth2 flow"
    )
    assert flow == "clientCredentials"
    browser.type_into(".modal-ux input[data-name=clientId]", "docs-client")
    browser.type_into(".modal-ux input[data-name=clientSecret]", "docs-secret")
    browser.click(".modal-ux .scopes a[data-all=true]")
    browser.click(".modal-ux .auth-btn-wrapper .btn.authorize")
    browser.wait_for(
        "[...document.querySelectorAll('.modal-ux .auth-btn-wrapper button')]"
        ".some(b => b.textContent.trim() === 'Logout')",
        "the dialog authorized",
    )
    assert issuer.token_endpoint.requests == requests_before + 1
    assert issuer.token_endpoint.log[-1]["authorization"].startswith("Basic ")
    browser.click(".modal-ux .btn-done")
    browser.click(f"{OPERATION} .btn-clear")
    browser.click(f"{OPERATION} .btn.execute")
    status = browser.wait_for(f"document.querySelector('{STATUS}')?.textContent.trim()", "200")
    assert status == "200"
