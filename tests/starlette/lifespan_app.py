"""A well-configured app with a lifespan of its own, written as the README shows: its server
starts, the lifespan runs, and refusal reasons reach the server's log."""

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from audmw import log_refusals
from audmw.starlette import AudienceMiddleware, public

state = {"lifespan": "not run"}


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    state["lifespan"] = "started"
    yield


@public
async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse(state["lifespan"])


# The settings come from AUDMW_*.
app = Starlette(
    routes=[Route("/", home)], lifespan=lifespan, middleware=[Middleware(AudienceMiddleware)]
)
log_refusals()
