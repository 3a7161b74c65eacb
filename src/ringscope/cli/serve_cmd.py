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

from .. import caps
from ..capture import CaptureWriter
from ..errors import BadInput, RingscopeError
from ..hub import DEFAULT_CLIENT_QUEUE, DEFAULT_REPLAY, Hub
from ..session import Session
from ..sources.hist_query import HistQuery, parse_spec
from .commands import COMMANDS
from .config import read_config
from .nats_options import add_export_options, exporter_from_args, target_from_args
from .options import add_session_options, check_replay_args, event_names, filter_from_args, ring_size
from .values import count, integer, number

if TYPE_CHECKING:
    from ..server import ServerState
    from ..server.aggregates import Aggregate

# aiohttp and the server package are imported by run(), not here: every
# other command builds this parser too and should not pay for them.

DEFAULT_PORT = 8750


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help=COMMANDS["serve"],
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
    p.add_argument("--drop-caps", action="store_true",
                   help="give up every capability once the programs are attached and the port is bound "
                        "(then /api/hist, /api/profile and adding aggregates answer 503)")  # fmt: skip
    p.add_argument("--aggregate", action="append", default=[], metavar="SPEC",
                   help="keep an in-kernel aggregate, exported in /metrics: EVENT?by=comm&latency=1 (repeatable)")  # fmt: skip
    p.add_argument("--config", help="TOML file with [[aggregate]] entries")
    p.add_argument("--capture", metavar="FILE",
                   help="also save what comes off the ring to capture FILE (replay it with -i)")  # fmt: skip
    p.add_argument("-i", "--input", metavar="FILE",
                   help="serve capture FILE instead of the kernel (needs no privilege); "
                        "it plays when the first client connects")  # fmt: skip
    p.add_argument("--speed", type=number("speed"), default=1.0,
                   help="with -i: 1 plays at the recorded pace (default), 2 twice as fast, 0 as fast as it goes")  # fmt: skip
    add_export_options(p)
    g = p.add_argument_group("the fleet view: serve what hosts exported, from JetStream (no privilege)")
    g.add_argument("--from", dest="source", metavar="URL",
                   help="serve the events in JetStream at nats://HOST:PORT instead of this kernel's")  # fmt: skip
    g.add_argument("--hosts", metavar="PATTERN",
                   help="with --from: only hosts matching this shell pattern (e.g. 'web-*')")  # fmt: skip
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
    from ..server.aggregates import AggregateSet
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
    if args.source is not None:
        from ..fleet import serve_fleet

        return serve_fleet(target_from_args(args.source, "--from", args), args, token, tls)
    if args.hosts is not None:
        raise BadInput("--hosts goes with --from URL")
    exporter = exporter_from_args(args)
    if exporter is not None and args.input is not None:
        raise BadInput("--export and -i go apart: export what the kernel produces")
    aggregates = AggregateSet()
    prepared = aggregates.prepare_all(_aggregates(args))  # bad specs fail here, before any loading
    if prepared and args.input is not None:
        raise BadInput("--aggregate and -i go apart: aggregates are kept by the kernel, a capture has none")
    session = _session(args)
    writer = None
    try:
        if args.capture is not None:
            writer = CaptureWriter.open(args.capture)
        # Hold only what serving needs from here on: files to read or write
        # as another user were opened above.
        caps.drop(_needed_caps(args, session, prepared))
        with session, aggregates:
            aggregates.add_all(prepared)
            if writer is not None:
                writer.begin_session(session)
                session.tap(writer)
            hub = Hub.for_session(session, replay=args.replay)
            state = ServerState(hub=hub, session=session, token=token, client_queue=args.client_queue,
                                max_clients=args.max_clients, aggregates=aggregates)  # fmt: skip
            state.drop_caps = args.drop_caps
            if exporter is not None:
                hub.add_tap(exporter)
                exporter.start()  # connects in the background: serving starts either way
                state.export = exporter
            replaying = session if args.input is not None else None
            return asyncio.run(_serve(state, args.host, args.port, tls, replaying))
    finally:
        if exporter is not None:
            exporter.close()  # after the hub's last pump: the final blocks go too
        session.close()
        if writer is not None:
            writer.close()


def _needed_caps(args: argparse.Namespace, session: Session, prepared: list[Aggregate]) -> frozenset[int]:
    """The capabilities serve keeps at start: none to replay a capture; to
    trace, CAP_BPF and CAP_PERFMON (and CAP_SYS_ADMIN if an event or
    aggregate is a uprobe), CAP_SYSLOG for kernel symbols and CAP_SYS_PTRACE
    for other users' memory maps in /api/profile; CAP_NET_BIND_SERVICE for a
    port below 1024. Only those held are kept; the rest are gone for good."""
    keep: set[int] = set()
    if 0 < args.port < 1024:
        keep.add(caps.CAP_NET_BIND_SERVICE)
    if args.input is None:
        keep |= {*caps.TRACING, caps.CAP_SYSLOG, caps.CAP_SYS_PTRACE}
        for spec in session.specs:
            keep |= set(spec.capabilities)
        for agg in prepared:
            if agg.hist.spec is not None:
                keep |= set(agg.hist.spec.capabilities)
    return frozenset(keep)


def _aggregates(args: argparse.Namespace) -> list[HistQuery]:
    """--config's aggregates, then --aggregate's, parsed (BadInput: exit 2)."""
    queries = read_config(args.config) if args.config else []
    return queries + [parse_spec(s) for s in args.aggregate]


def _session(args: argparse.Namespace) -> Session:
    if args.input is None:
        if args.speed != 1.0:
            raise BadInput("--speed goes with -i FILE")
        return Session(
            event_names(args),
            filter=filter_from_args(args),
            ring_size=ring_size(args),
            transport=args.transport,
        )
    check_replay_args(args, [])
    if args.capture is not None:
        raise BadInput("--capture and -i go apart: a capture is already a capture")
    if not args.speed >= 0:
        raise BadInput(f"bad --speed {args.speed}: 0 (as fast as it goes) or more")
    return Session.replay(args.input, speed=args.speed)


async def _end_of_capture(state: ServerState, session: Session) -> None:
    """When the replay reaches the capture's last poll, end every stream as
    a live server ends them at shutdown (the last poll read with flush)."""
    while not session.exhausted:
        await asyncio.sleep(0.02)
    await state.hub.stop("end of capture")
    if session.truncated:
        print(f"ringscope: {session.truncated}: served up to there", file=sys.stderr, flush=True)


async def _serve(
    state: ServerState, host: str, port: int, tls: ssl.SSLContext | None, replaying: Session | None = None
) -> int:
    from aiohttp import web

    from ..server import Runner, make_app
    from ..server.security import loopback_hosts

    app = make_app(state)
    # No access log: nothing that could carry a token ends up in a log.
    runner = Runner(app, handle_signals=False, access_log=None, shutdown_timeout=state.shutdown_grace)
    await runner.setup()
    stop = asyncio.Event()
    ender: asyncio.Task[None] | None = None
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
        if state.drop_caps:  # attached and bound: nothing left that needs a capability
            caps.drop()
            state.dropped_caps = True
        if replaying is not None:
            ender = asyncio.create_task(_end_of_capture(state, replaying))
        await stop.wait()
        print("ringscope: shutting down", file=sys.stderr, flush=True)
    finally:
        if ender is not None and not ender.done():
            ender.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
    return 0
