"""An app whose audmw settings cannot protect it (no audience): its server must not start."""

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from audmw.starlette import AudienceMiddleware


async def home(request: object) -> PlainTextResponse:
    return PlainTextResponse("served")


# The settings come from AUDMW_*; the test leaves AUDMW_AUDIENCE out.
app = Starlette(routes=[Route("/", home)], middleware=[Middleware(AudienceMiddleware)])
