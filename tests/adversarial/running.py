"""Running a corpus case: against the core's ``Guard``, and through each adapter's server.

Both sides are judged the same way: the status, the RFC 6750 code of the challenge, the reason
code of the log line, whether a view ran; and everywhere, nothing of the token in an answer
or a log line, and no log line a client could forge.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from contract import spec
from contract.rawhttp import Response
from contract.servers import SERVERS, ServerProcess, StartFailed

from adversarial.corpus import ACCEPT, SERVER_REFUSES, Case, Outcome, Sent
from adversarial.kit import AUDIENCE, CLIENT_ID
from audmw import Guard, Settings
from audmw.errors import AuthError
from audmw.request import IncomingRequest, is_form, token_in_form, token_in_query

# One server per adapter: Starlette, FastAPI, Django under WSGI and ASGI, Flask.
ADAPTERS = tuple(server for server in SERVERS if not server.cors_preflight)
# The unmarked function view answering POST in each app.
POST_STYLES = {
    "starlette": "starlette-route",
    "fastapi": "fastapi-operation",
    "django": "django-function",
    "flask": "flask-route",
}
_REASON = re.compile(r"audmw refused request: reason=(\w+)")
_ERROR = re.compile(r'(?:^|[\s,])error="([^"]*)"')
_OUR_LINE = ("INFO audmw: audmw refused request: reason=", "WARNING audmw: ")


def corpus_settings(issuer: str) -> Settings:
    """What every corpus server runs with (``contract.spec`` and ``client_ids``)."""
    return Settings(
        issuer=issuer,
        audience=AUDIENCE,
        exempt_paths=spec.EXEMPT_PATHS,
        rules=[dict(rule) for rule in spec.RULES],
        client_ids=[CLIENT_ID],
    )


def target_for(sent: Sent, family: str) -> str:
    return sent.target.replace("{style}", POST_STYLES[family])


# -- the core --------------------------------------------------------------------------------


def incoming(sent: Sent) -> IncomingRequest:
    """The request as an adapter builds it from what a server hands over."""
    path, _, query = target_for(sent, "starlette").partition("?")
    body = sent.body if is_form(sent.content_type) else b""
    return IncomingRequest(
        sent.method,
        unquote(path),
        # Servers strip the optional whitespace (SP, HTAB) around a field value.
        tuple(value.strip(" \t") for value in sent.authorization),
        token_in_query=token_in_query(query),
        token_in_body=bool(body) and token_in_form(body),
    )


def core_outcome(guard: Guard, sent: Sent, *, use_async: bool = False) -> Outcome:
    request = incoming(sent)
    try:
        requirement = guard.requirement(request, None)
        if requirement is not None:
            if use_async:
                asyncio.run(guard.authorize_async(request, requirement))
            else:
                guard.authorize(request, requirement)
    except AuthError as refusal:
        return Outcome(refusal.status, refusal.error, refusal.reason)
    return ACCEPT


# -- what no answer and no log line may hold ---------------------------------------------------


def secret_fragments(sent: Sent) -> list[str]:
    """Pieces of the token long enough to identify it: its segments and its first 16 bytes."""
    token = sent.secret
    if not token or len(token) < 16:
        return []
    pieces = {token[:16], *(part for part in token.split(".") if len(part) >= 16)}
    return sorted(pieces)


def leaks(text: str, fragments: Iterable[str]) -> bool:
    return any(fragment in text for fragment in fragments)


def forged_log_lines(lines: Iterable[str]) -> list[str]:
    """Log lines that are not what the ``audmw`` logger writes: written by a client."""
    found = []
    for line in lines:
        written_by_a_client = any(ord(c) < 0x20 or c == "\x7f" for c in line) or (
            line.startswith(("INFO ", "WARNING "))
            and "audmw" in line.split(":")[0]
            and not line.startswith(_OUR_LINE)
        )
        if written_by_a_client:
            found.append(line[:120])
    return found


def core_log_problems(records: Iterable[logging.LogRecord], sent: Sent) -> list[str]:
    problems = []
    fragments = secret_fragments(sent)
    for record in records:
        message = record.getMessage()
        if leaks(message, fragments):
            problems.append(f"log line holds the token: {record.levelname} {message[:60]}…")
        if any(ord(c) < 0x20 or c == "\x7f" for c in message):
            problems.append(f"log line holds a control character: {message[:120]!r}")
    return problems


# -- the servers -------------------------------------------------------------------------------


class LogTail:
    """What a server wrote to its log since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def read_new(self) -> str:
        try:
            with self.path.open("rb") as log:
                log.seek(self._offset)
                data = log.read()
        except FileNotFoundError:
            return ""
        self._offset += len(data)
        return data.decode("utf-8", "replace")


@dataclass(frozen=True)
class Observed:
    response: Response
    ran: str | None
    log: str  # what the server logged while answering

    @property
    def reasons(self) -> list[str]:
        return _REASON.findall(self.log)


class Adapters:
    """The five adapter servers, launched together on first use, with refusals logged."""

    def __init__(self, issuer: str, directory: Path, environment: Mapping[str, str]) -> None:
        self.processes = {
            server.name: ServerProcess(
                server, issuer, directory, module="adversarial.serve", environment=environment
            )
            for server in ADAPTERS
        }
        self.logs = {name: LogTail(process.log_path) for name, process in self.processes.items()}
        self._launched = False
        self._ids = 0

    def get(self, name: str) -> ServerProcess:
        if not self._launched:
            self._launched = True
            for process in self.processes.values():
                process.launch()
        process = self.processes[name]
        process.ready()
        self.logs[name].read_new()  # start-up lines are not the case's
        return process

    def send(self, name: str, sent: Sent) -> Observed:
        process = self.get(name)
        self._ids += 1
        request_id = str(self._ids)
        headers = [(spec.REQUEST_ID_HEADER, request_id)]
        headers += [("Authorization", value) for value in sent.authorization]
        if sent.content_type is not None:
            headers.append(("Content-Type", sent.content_type))
        target = target_for(sent, process.spec.family)
        try:
            response = process.client.request(sent.method, target, headers, sent.body)
        except (OSError, ValueError) as error:
            process.client.close()
            response = Response(0, (), f"no answer: {type(error).__name__}".encode())
        return Observed(
            response, process.ran.read_new().get(request_id), self.logs[name].read_new()
        )

    def close(self) -> None:
        for process in self.processes.values():
            process.stop()


def describe(observed: Observed) -> str:
    response = observed.response
    text = str(response.status)
    scheme = ""
    for value in response.header_values("www-authenticate"):
        scheme = value.split(",")[0].split(" ")[0]
        text += f" {scheme} {','.join(_ERROR.findall(value)) or 'bare'}"
    if observed.reasons:
        text += f" reason={','.join(observed.reasons)}"
    if observed.ran:
        text += f" view {observed.ran} ran"
    if response.status and not scheme and not observed.ran:
        text += f" body {response.body[:80]!r}"
    return text


def describe_outcome(outcome: Outcome | str) -> str:
    if isinstance(outcome, str):
        return "the server's own 4xx"
    if outcome.status == 200:
        return "200, a view runs"
    return f"{outcome.status} {outcome.error or 'bare'} reason={outcome.reason}"


def server_problems(case: Case, http_server: str, sent: Sent, observed: Observed) -> list[str]:
    """What is wrong with one server's answer to a case; empty when it is the expected one."""
    expected = case.expected_on(http_server)
    response = observed.response
    problems = []
    fragments = secret_fragments(sent)
    answer_text = response.body.decode("latin-1") + "".join(v for _, v in response.headers)
    if leaks(answer_text, fragments):
        problems.append("the answer holds the token")
    if leaks(observed.log, fragments):
        problems.append("the log holds the token")
    forged = forged_log_lines(observed.log.splitlines())
    if forged:
        problems.append(f"forged log lines: {forged}")
    if not 0 < response.status < 500:
        problems.append(f"status {response.status}")
    if expected == SERVER_REFUSES:
        own = response.header("www-authenticate") is None
        if not (400 <= response.status < 500 and own) or observed.ran is not None:
            problems.append(f"expected {describe_outcome(expected)}, got {describe(observed)}")
        return problems
    assert isinstance(expected, Outcome)
    # A Bearer challenge, and a DPoP one beside it (RFC 9449 §7.1) that may hold the error.
    values = response.header_values("www-authenticate")
    errors = set(_ERROR.findall(" ".join(values)))
    schemes = [value.split(",")[0].split(" ")[0] for value in values]
    if expected.status == 200:
        holds = response.status == 200 and observed.ran is not None and not observed.reasons
    else:
        holds = (
            response.status == expected.status
            and observed.ran is None
            and "Bearer" in schemes
            and errors == ({expected.error} if expected.error else set())
            and observed.reasons[-1:] == [expected.reason]
        )
    if not holds:
        problems.append(f"expected {describe_outcome(expected)}, got {describe(observed)}")
    return problems


def start_failure(adapters: Adapters, name: str) -> str | None:
    try:
        adapters.get(name)
    except StartFailed as failure:
        return str(failure)
    return None
