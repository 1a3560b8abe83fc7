"""Every request the suite sends, with the answer the oracle expects, per server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from contract import oracle, spec
from contract.servers import SERVERS, ServerSpec


@dataclass(frozen=True)
class Expected:
    refusal: oracle.Refusal | None  # None: audmw lets the request through
    status: int  # the status once let through
    view: str | None  # the view of ours that must run once let through; None: none of ours
    served: str | None = None  # the files view: the path it must serve


@dataclass(frozen=True)
class Probe:
    server: str
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    token: str  # a kind of spec.TOKEN_SCOPES
    need: oracle.Need
    expected: Expected
    answered_by: str  # spec.VIEW, BUILTIN or FRAMEWORK: which code path of the adapter decides

    @property
    def label(self) -> str:
        extra = "".join(f" {name}" for name, _ in self.headers)
        return f"{self.method} {self.target}{extra} [{self.token}]"


@dataclass(frozen=True)
class Item:
    """One test: a request sent with each of its tokens."""

    id: str
    probes: tuple[Probe, ...]


def tokens_for(needed: oracle.Need) -> tuple[str, ...]:
    """The tokens that tell the plausible wrong answers apart from the right one."""
    if needed.kind == oracle.OPEN:
        return ("none", "garbage")  # a garbage token shows that it is not read
    if needed.kind == oracle.BAD_REQUEST:
        return ("none", "garbage", "bare", "full")
    if not needed.parts:
        return ("none", "garbage", "bare")
    tokens = ["none", "bare", "partial", "full"]
    levels = [part.level for part in needed.parts if part.level in spec.ALL_LEVELS]
    if len(needed.parts) > 1:  # every part must hold: a token lacking one of them
        tokens += [f"lacks-{level}" for level in levels]
    return tuple(tokens)


def _probes(
    server: ServerSpec,
    method: str,
    target: str,
    way: oracle.Way,
    tokens: tuple[str, ...] | None = None,
    *,
    answered_by: str,
    status: int,
    view: str | None,
    served: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> tuple[Probe, ...]:
    needed = oracle.need(
        method,
        target,
        way,
        preflight=headers == spec.PREFLIGHT_HEADERS,
        cors_preflight=server.cors_preflight,
    )
    return tuple(
        Probe(
            server.name,
            method,
            target,
            headers,
            token,
            needed,
            Expected(oracle.refusal(needed, token), status, view, served),
            answered_by,
        )
        for token in (tokens_for(needed) if tokens is None else tokens)
    )


# -- placements of marks --------------------------------------------------------------------------


def _marks_on_way(case: spec.Case, handler: spec.Handler) -> tuple[spec.Mark, ...] | None:
    if handler.answers == spec.FRAMEWORK:
        return None
    return tuple(
        spec.Mark.on(level, mark)
        for level in handler.levels
        if (mark := case.mark(level)) is not None
    )


def _marks_item(
    server: ServerSpec,
    case: spec.Case,
    method: str,
    headers: tuple[tuple[str, str], ...] = (),
    suffix: str = "",
) -> Item:
    style = case.style
    handler = style.handlers[method]
    others = (
        marks
        for other, h in style.handlers.items()
        if other != method and (marks := _marks_on_way(case, h)) is not None
    )
    way = oracle.Way(
        _marks_on_way(case, handler), any(mark.asks for marks in others for mark in marks)
    )
    return Item(
        f"{server.name}/{style.name}/{case.label}/{method}{suffix}",
        _probes(
            server,
            method,
            case.path,
            way,
            answered_by=handler.answers,
            status=handler.status,
            view=case.view_name(handler.runs) if handler.runs else None,
            headers=headers,
        ),
    )


def marks_items(server: ServerSpec) -> Iterator[Item]:
    for style in spec.styles_of(server.family):
        for case in spec.cases(style):
            for method in spec.METHODS:
                yield _marks_item(server, case, method)


def preflight_marks_items(server: ServerSpec) -> Iterator[Item]:
    """A CORS preflight to every placement of marks."""
    for style in spec.styles_of(server.family):
        for case in spec.cases(style):
            yield _marks_item(server, case, "OPTIONS", spec.PREFLIGHT_HEADERS, " preflight")


def head_only_viewset_item(server: ServerSpec) -> Item:
    way = oracle.Way((spec.Mark("handler", spec.ALL, ("admin",)),))
    return Item(
        f"{server.name}/drf-viewset/first request HEAD, action=admin",
        _probes(
            server,
            "HEAD",
            spec.HEAD_ONLY_VIEWSET_PATH,
            way,
            ("none", "bare", "full"),
            answered_by=spec.VIEW,
            status=200,
            view=spec.HEAD_ONLY_VIEWSET_VIEW,
        ),
    )


# -- shared routes: exempt paths, rules, path variants --------------------------------------------


def _way_to(reaches: spec.Reaches, method: str) -> oracle.Way:
    route = spec.SHARED_ROUTES[reaches.route] if reaches.route else None
    others_ask = route.asks_anywhere if route else False
    if reaches.answers == spec.FRAMEWORK or route is None:
        return oracle.Way(None, others_ask)
    return oracle.Way(route.marks_for(method), others_ask)


def path_items(server: ServerSpec) -> Iterator[Item]:
    for probe in spec.PATH_PROBES:
        reaches = probe.reaches(server.family)
        yield Item(
            f"{server.name}/{probe.label}",
            _probes(
                server,
                probe.method,
                probe.target,
                _way_to(reaches, probe.method),
                probe.tokens,
                answered_by=reaches.answers,
                status=reaches.status,
                view=reaches.view_name,
                served=reaches.served,
            ),
        )


def cors_items(server: ServerSpec) -> Iterator[Item]:
    for probe in spec.CORS_PROBES:
        reaches = probe.reaches(server.family)
        for kind, headers in spec.CORS_HEADERS.items():
            yield Item(
                f"{server.name}/OPTIONS {probe.target} {kind}",
                _probes(
                    server,
                    "OPTIONS",
                    probe.target,
                    _way_to(reaches, "OPTIONS"),
                    ("none", "garbage", "bare"),
                    answered_by=reaches.answers,
                    status=reaches.status,
                    view=reaches.view_name,
                    headers=headers,
                ),
            )


def every_item(server: ServerSpec) -> Iterator[Item]:
    yield from marks_items(server)
    if server.family == "django":
        yield head_only_viewset_item(server)
    yield from path_items(server)
    yield from cors_items(server)
    yield from preflight_marks_items(server)


def servers(*, cors_preflight: bool | None = None) -> tuple[ServerSpec, ...]:
    return tuple(s for s in SERVERS if cors_preflight is None or s.cors_preflight is cors_preflight)
