"""Who may talk to the server: bearer token (constant-time compare, header
only, never logged), loopback-only binds without a token, same-origin
browser requests only."""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

from ..errors import BadInput

__all__ = [
    "auth_middleware",
    "check_bind",
    "host_middleware",
    "is_loopback",
    "loopback_hosts",
    "origin_allowed",
    "origin_middleware",
]

# The dashboard page and health check carry no data: a browser must be able
# to load the page before it can send the token the user types in.
PUBLIC = frozenset({"/", "/healthz", "/favicon.ico"})
PUBLIC_PREFIX = "/static/"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """True when every address `host` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as e:
        raise BadInput(f"bad --host {host!r}: {e.strerror}") from None
    except UnicodeError:  # IDNA encoding of the name: bytes that are not a host name
        raise BadInput(f"bad --host {host!r}: not a host name") from None
    return all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def check_bind(host: str, token: str | None) -> None:
    loopback = is_loopback(host)  # resolved with a token too: a bad name fails here, not at bind
    if token is None and not loopback:
        raise BadInput(f"refusing to bind {host!r} (not loopback) without --token")


def _token_ok(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    # aiohttp decodes header bytes that are not UTF-8 with surrogateescape:
    # encode them back the same way (a plain encode() raises on them).
    # compare_digest on bytes of equal type: time does not depend on where they differ.
    given_bytes = given.strip().encode("utf-8", "surrogateescape")
    return scheme.lower() == "bearer" and hmac.compare_digest(given_bytes, token.encode())


def auth_middleware(token: str | None) -> Middleware:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        public = request.path in PUBLIC or request.path.startswith(PUBLIC_PREFIX)
        given = request.headers.get("Authorization", "")
        if token is not None and not public and not _token_ok(given, token):
            return web.json_response(
                {"error": "missing or wrong bearer token", "param": "Authorization"},
                status=401,
                headers={"WWW-Authenticate": 'Bearer realm="ringscope"'},
            )
        return await handler(request)

    return check


def origin_allowed(request: web.Request) -> bool:
    """False for a request a browser makes for another site's page: its
    Origin is not ours, or Sec-Fetch-Site says cross-site or same-site.
    Such a page could otherwise, with the user's network position, read the
    stream, attach BPF programs (/api/hist) or use up the client slots with
    no-cors requests. Non-browser clients send neither header."""
    origin = request.headers.get("Origin")
    if origin is not None:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != request.host.lower():
            return False
    return request.headers.get("Sec-Fetch-Site", "").lower() not in ("cross-site", "same-site")


def origin_middleware() -> Middleware:
    """403 for cross-site requests (origin_allowed) on every route but /healthz."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/healthz" and not origin_allowed(request):
            return web.json_response({"error": "cross-site request refused", "param": "Origin"}, status=403)
        return await handler(request)

    return check


def loopback_hosts(port: int) -> frozenset[str]:
    """Host header values a loopback-bound server answers to."""
    names = ("127.0.0.1", "localhost", "[::1]")
    return frozenset({*names, *(f"{n}:{port}" for n in names)})


def host_middleware(allowed: Callable[[], frozenset[str] | None]) -> Middleware:
    """Without a token, a loopback server is only safe if it answers to
    loopback names: otherwise a web page whose DNS name is rebound to
    127.0.0.1 becomes same-origin with it and can read the stream.
    `allowed()` is read per request: the port is known only once bound."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        hosts = allowed()
        if hosts is not None and request.host.lower() not in hosts:
            return web.json_response({"error": "unexpected Host header", "param": "Host"}, status=421)
        return await handler(request)

    return check
