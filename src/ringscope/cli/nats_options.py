"""Options shared by the commands that talk to NATS: `serve --export`,
`trace --export` and `serve --from`. Secrets are only ever paths."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..errors import BadInput
from .options import parse_size
from .values import number

if TYPE_CHECKING:
    from ..export import Exporter
    from ..jetstream import Credentials, NatsTarget

__all__ = ["add_credentials", "add_export_options", "credentials", "exporter_from_args", "target_from_args"]


def add_credentials(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("NATS credentials and TLS (files only: never secrets on the command line)")
    g.add_argument("--nats-creds", metavar="PATH", help="NATS credentials file (JWT and nkey seed)")
    g.add_argument("--nats-nkey", metavar="PATH", help="nkey seed file")
    g.add_argument("--nats-token-file", metavar="PATH", help="file whose first line is the NATS token")
    g.add_argument("--nats-ca", metavar="PATH", help="CA bundle to verify the NATS server (implies TLS)")
    g.add_argument("--nats-cert", metavar="PATH", help="client certificate for mutual TLS")
    g.add_argument("--nats-key", metavar="PATH", help="private key for --nats-cert")


def add_export_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("export to NATS JetStream")
    g.add_argument("--export", metavar="URL", help="publish the stream to JetStream at nats://HOST:PORT")
    g.add_argument("--host-name", metavar="NAME",
                   help="this host's name in subjects ringscope.NAME.* (default: the hostname)")  # fmt: skip
    g.add_argument("--export-stream", metavar="NAME", default="RINGSCOPE",
                   help="JetStream stream, created if missing (default RINGSCOPE)")  # fmt: skip
    g.add_argument("--export-max-age", metavar="SECONDS", type=number("max age"), default=0.0,
                   help="the stream keeps messages this long (default 0: no limit)")  # fmt: skip
    g.add_argument("--export-max-bytes", metavar="SIZE", default="0",
                   help="the stream keeps at most this many bytes, e.g. 1G (default 0: no limit)")  # fmt: skip
    g.add_argument("--export-buffer", metavar="SIZE", default="32M",
                   help="message bytes held in memory before the spool (default 32M)")  # fmt: skip
    g.add_argument("--export-spool", metavar="DIR",
                   help="keep messages here while NATS is slow or down (default: memory only)")  # fmt: skip
    g.add_argument("--export-spool-limit", metavar="SIZE", default="256M",
                   help="spool bytes; past this the oldest are dropped and counted (default 256M)")  # fmt: skip
    add_credentials(p)


def credentials(args: argparse.Namespace) -> Credentials:
    from ..jetstream import Credentials

    return Credentials(args.nats_creds, args.nats_nkey, args.nats_token_file, args.nats_ca, args.nats_cert,
                       args.nats_key)  # fmt: skip


def target_from_args(url: str, option: str, args: argparse.Namespace) -> NatsTarget:
    from ..jetstream import parse_url

    return parse_url(url, option, credentials(args))


def exporter_from_args(args: argparse.Namespace) -> Exporter | None:
    """The exporter --export asks for (not started), or None; BadInput on bad options."""
    if args.export is None:
        given = [o for o, v in (("--host-name", args.host_name), ("--export-spool", args.export_spool)) if v]
        if given:
            raise BadInput(f"{given[0]} goes with --export URL")
        return None
    from ..export import Exporter
    from ..jetstream import StreamSpec, check_host, default_host

    target = target_from_args(args.export, "--export", args)
    host = check_host(args.host_name) if args.host_name is not None else default_host()
    if not args.export_max_age >= 0:
        raise BadInput(f"bad --export-max-age {args.export_max_age}: 0 (no limit) or more seconds")
    max_bytes = parse_size(args.export_max_bytes)
    spool_limit = parse_size(args.export_spool_limit)
    buffer = parse_size(args.export_buffer)
    for opt, text, value in (("--export-spool-limit", args.export_spool_limit, spool_limit),
                             ("--export-buffer", args.export_buffer, buffer)):  # fmt: skip
        if value < 1:
            raise BadInput(f"bad {opt} {text}: must be positive")
    if not args.export_stream.isidentifier() and not args.export_stream.replace("-", "_").isidentifier():
        raise BadInput(f"bad --export-stream {args.export_stream[:80]!r}: letters, digits, '-' and '_'")
    spec = StreamSpec(args.export_stream, float(args.export_max_age), max_bytes or -1)
    return Exporter(target, host, spec, spool_dir=args.export_spool, spool_limit=spool_limit, memory=buffer)
