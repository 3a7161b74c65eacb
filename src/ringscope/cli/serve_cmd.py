"""`ringscope serve`: the live stream over HTTP (SSE, WebSocket, NDJSON),
with /metrics, /api/status and the dashboard at /."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import ssl
import sys
from typing import TYPE_CHECKING

from ..errors import BadInput, RingscopeError
from ..hub import DEFAULT_CLIENT_QUEUE, DEFAULT_REPLAY, Hub
from ..session import Session
from .options import add_session_options, event_names, filter_from_args, ring_size
from .values import count, integer

if TYPE_CHECKING:
    from ..server import ServerState

# aiohttp and the server package are imported by run(), not here: every
# other command builds this parser too and should not pay for them.

DEFAULT_PORT = 8750


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="serve live events over HTTP (SSE, WebSocket, NDJSON) with a dashboard",
                       description="Serve kernel events to browsers, curl and scripts. Binds to loopback "
                                   "unless --host is given; a non-loopback bind needs --token.")  # fmt: skip
    add_session_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=integer("port"),
        default=DEFAULT_PORT,
        help=f"TCP port (default {DEFAULT_PORT})",
    )
    p.add_argument("--token", help="require `Authorization: Bearer TOKEN` (or set RINGSCOPE_TOKEN)")
    p.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate chain")
    p.add_argument("--tls-key", help="private key for --tls-cert")
    p.add_argument(
        "--client-queue",
        type=count("client queue"),
        default=DEFAULT_CLIENT_QUEUE,
        help=f"events queued per client before its policy applies (default {DEFAULT_CLIENT_QUEUE})",
    )
    p.add_argument(
        "--max-clients", type=count("client count"), default=256, help="stream clients at once (default 256)"
    )
    p.add_argument("--replay", type=integer("replay size"), default=DEFAULT_REPLAY,
                   help=f"events kept for SSE Last-Event-ID resume, 0 for none (default {DEFAULT_REPLAY})")  # fmt: skip
    p.set_defaults(func=run)


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if not args.tls_cert and not args.tls_key:
        return None
    if not (args.tls_cert and args.tls_key):
        raise BadInput("--tls-cert and --tls-key go together")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as e:
        raise BadInput(f"cannot load TLS certificate/key: {e}") from None
    return ctx


def _token(args: argparse.Namespace) -> str | None:
    token: str | None = args.token or os.environ.get("RINGSCOPE_TOKEN") or None
    if token is not None and len(token) < 16:
        raise BadInput("--token must be at least 16 characters")
    if token is not None and not all("!" <= c <= "~" for c in token):
        # What a client can send in a header, and compare byte for byte.
        raise BadInput("--token must be printable ASCII without spaces")
    return token


def run(args: argparse.Namespace) -> int:
    from ..server import ServerState
    from ..server.security import check_bind

    token = _token(args)
    check_bind(args.host, token)
    if not 0 <= args.port <= 65535:
        raise BadInput(f"bad --port {args.port}")
    if args.max_clients < 1:
        raise BadInput(f"bad --max-clients {args.max_clients}: must be positive")
    if args.client_queue < 1:
        raise BadInput(f"bad --client-queue {args.client_queue}: must be positive")
    if args.replay < 0:
        raise BadInput(f"bad --replay {args.replay}: must be 0 (no replay) or more")
    tls = _tls(args)
    session = Session(
        event_names(args), filter=filter_from_args(args), ring_size=ring_size(args), transport=args.transport
    )
    with session:
        hub = Hub.for_session(session, replay=args.replay)
        state = ServerState(hub=hub, session=session, token=token, client_queue=args.client_queue,
                            max_clients=args.max_clients)  # fmt: skip
        return asyncio.run(_serve(state, args.host, args.port, tls))


async def _serve(state: ServerState, host: str, port: int, tls: ssl.SSLContext | None) -> int:
    from aiohttp import web

    from ..server import JsonErrorRunner, make_app
    from ..server.security import loopback_hosts

    app = make_app(state)
    # No access log: nothing that could carry a token ends up in a log.
    runner = JsonErrorRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=state.shutdown_grace
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, host, port, ssl_context=tls)
        try:
            await site.start()
        except OSError as e:
            raise RingscopeError(f"cannot listen on {host}:{port}: {e.strerror}") from None
        scheme = "https" if tls else "http"
        shown = f"[{host}]" if ":" in host else host
        port = runner.addresses[0][1]
        if state.token is None:  # loopback only (check_bind): refuse other Host names
            state.allowed_hosts = loopback_hosts(port) | {shown, f"{shown}:{port}"}
        print(
            f"ringscope: serving on {scheme}://{shown}:{port}/ (Ctrl-C to stop)", file=sys.stderr, flush=True
        )
        await stop.wait()
        print("ringscope: shutting down", file=sys.stderr, flush=True)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    return 0
