"""`serve --from nats://...`: the fleet view's life. Connects (an unreachable
server or refused credentials: one line, exit 1), watches the hosts' heartbeats,
serves HTTP until SIGTERM/SIGINT. Opens no kernel object: needs no privilege."""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys

from ..errors import BadInput, RingscopeError
from ..jetstream import NatsTarget, StreamSpec, connect, ensure_stream
from ..jetstream.subjects import check_host

__all__ = ["serve_fleet"]


def serve_fleet(target: NatsTarget, args: argparse.Namespace, token: str | None,
                tls: ssl.SSLContext | None) -> int:  # fmt: skip
    """Serve the fleet in `target` as serve's `args` say (--host, --port, --hosts)."""
    if args.export is not None or args.input is not None or args.capture is not None:
        raise BadInput("--from serves JetStream: it goes apart from --export, -i and --capture")
    if args.hosts is not None and not any(c in args.hosts for c in "*?["):
        check_host(args.hosts)
    return asyncio.run(_serve(target, args, token, tls))


async def _serve(target: NatsTarget, args: argparse.Namespace, token: str | None,
                 tls: ssl.SSLContext | None) -> int:  # fmt: skip
    from aiohttp import web

    from ..server import Runner
    from ..server.security import loopback_hosts
    from .app import make_fleet_app
    from .hosts import Hosts
    from .state import FleetState

    nc = await connect(target, name="ringscope-fleet")
    hosts = Hosts(args.hosts)
    try:
        # The stream may not exist yet (no host has exported): make it, with no limits set.
        await ensure_stream(nc.jetstream(), StreamSpec(args.export_stream), update=False)
        await hosts.start(nc)
    except Exception as e:
        await nc.close()
        raise RingscopeError(f"JetStream at {target.shown}: {str(e).strip() or type(e).__name__}") from None
    state = FleetState(nc, target.shown, hosts, token=token)
    runner = Runner(make_fleet_app(state), handle_signals=False, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await web.TCPSite(runner, args.host, args.port, ssl_context=tls).start()
        except OSError as e:
            raise RingscopeError(f"cannot listen on {args.host}:{args.port}: {e.strerror}") from None
        port = runner.addresses[0][1]
        if token is None:
            state.allowed_hosts = loopback_hosts(port) | {args.host, f"{args.host}:{port}"}
        scheme = "https" if tls else "http"
        print(f"ringscope: serving the fleet in {target.shown} on {scheme}://{args.host}:{port}/ "
              "(Ctrl-C to stop)", file=sys.stderr, flush=True)  # fmt: skip
        await stop.wait()
        print("ringscope: shutting down", file=sys.stderr, flush=True)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        await hosts.stop()
        await nc.close()
    return 0
