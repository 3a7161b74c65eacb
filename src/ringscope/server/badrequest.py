"""Requests too malformed for a route still get a JSON 400, and no
traceback in the log: a query string whose bytes are not UTF-8, whether
percent-encoded (`?comm=%ff`, which aiohttp would otherwise decode to
U+FFFD and pass on) or raw in the request line (which aiohttp's parser
rejects before any route or middleware runs, answering text/plain and
logging the parser's traceback)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

__all__ = ["JsonErrorRunner", "utf8_query_middleware"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message, "param": "query"}, status=status)


@web.middleware
async def utf8_query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for a query string that does not decode as UTF-8."""
    raw = request.rel_url.raw_query_string
    try:
        unquote_to_bytes(raw.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        return _bad("the query string is not UTF-8")
    return await handler(request)


class _JsonErrorHandler(RequestHandler):
    """aiohttp's connection handler, answering a request its parser refused
    with one JSON line instead of text and a logged traceback. Other errors
    (500s: our bugs) keep aiohttp's handling and its log."""

    __slots__ = ()

    def handle_error(
        self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:  # fmt: skip
        if not isinstance(exc, HttpProcessingError) or status >= 500:
            return super().handle_error(request, status, exc, message)
        reason = (exc.message or "").strip().splitlines()[0] if exc.message else "malformed request"
        self.logger.debug("bad request from %s: %s", request.remote, reason)
        resp = _bad(f"bad request: {reason}", status)
        resp.force_close()
        return resp


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        handler.__class__ = _JsonErrorHandler  # same layout (no new slots): only handle_error differs
        return handler


class JsonErrorRunner(web.AppRunner):
    """web.AppRunner whose connections answer unparsable requests in JSON.
    aiohttp has no public hook for the parser's error response, so the one
    server object it makes is given a subclass that only overrides how a
    connection handler is created (aiohttp is pinned in pyproject.toml;
    tests/server/test_bad_requests.py checks the behaviour)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer
        return server
