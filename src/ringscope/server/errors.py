"""Every error the server answers is JSON, `{"error": "..."}`: the router's
404 and 405 (json_errors), a handler's own 4xx, a failure inside a handler
(500), and what aiohttp's HTTP parser refuses before any handler runs (400,
or 431 for an over-long request line or header). A bad request is logged
as one line at debug level, never with a traceback: any client could fill
the log with them.

The parser's answers come from aiohttp's RequestHandler.handle_error; the
only way to change them is a RequestHandler subclass, which the server
makes per connection: Runner is the AppRunner that builds that server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_request import BaseRequest

__all__ = ["Runner", "json_error", "json_errors", "utf8_query_middleware"]

log = logging.getLogger("ringscope.server")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    return web.json_response({"error": message, **extra}, status=status, headers=headers)


def _message(request: web.Request, e: web.HTTPException) -> str:
    if e.status == 404:
        return f"no such path: {request.path[:200]}"
    if e.status == 405:
        return f"method {request.method} not allowed here"
    return e.reason


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The router's (and the static files') HTTP errors, as JSON."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        keep = {k: v for k, v in e.headers.items() if k.lower() not in ("content-type", "content-length")}
        return json_error(e.status, _message(request, e), keep)


@web.middleware
async def utf8_query_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for a query string that does not decode as UTF-8."""
    raw = request.rel_url.raw_query_string
    try:
        unquote_to_bytes(raw.replace("+", " ")).decode("utf-8")
    except UnicodeDecodeError:
        return json_error(400, "the query string is not UTF-8", param="query")
    return await handler(request)


def parse_error(exc: HttpProcessingError) -> tuple[int, str]:
    """Status and a short message for what the HTTP parser refused (the
    parser's own message can quote kilobytes of the request)."""
    if isinstance(exc, LineTooLong):
        limit = exc.args[1] if len(exc.args) > 1 else "the limit of"
        return 431, f"request line or header field too long (more than {limit} bytes)"
    first = (exc.message or "bad request").strip().splitlines() or ["bad request"]
    return 400, f"malformed HTTP request: {first[0][:120]}"


class _JsonErrorHandler(web.RequestHandler):
    """aiohttp's per-connection protocol, with JSON error answers."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if isinstance(exc, HttpProcessingError):
            status, text = parse_error(exc)
            log.debug("bad request from %s: %s", request.remote, text)
        elif status == 500:
            # A failure of ours, not the client's: worth a traceback.
            log.error("error handling %s %s", request.method, request.path[:200], exc_info=exc)
            text = "internal server error"
        else:
            text = message or f"HTTP {status}"
        if request.writer.output_size > 0:
            raise ConnectionError("response already started: cannot send an error")
        resp = json_error(status, text)
        resp.force_close()
        return resp


class _Server(web.Server):
    def __init__(self, handler: Any, *, kwargs: dict[str, Any], **server_kw: Any) -> None:
        super().__init__(handler, **server_kw, **kwargs)
        self._handler_kw = kwargs

    def __call__(self) -> web.RequestHandler:
        return _JsonErrorHandler(self, loop=asyncio.get_running_loop(), **self._handler_kw)


class Runner(web.AppRunner):
    """web.AppRunner whose connections answer parser errors in JSON."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()  # starts the app; its Server holds the handler settings
        return _Server(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            kwargs=made._kwargs,
        )
