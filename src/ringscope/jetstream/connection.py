"""Where and how to reach NATS: the URL checked before anything starts,
credentials read from files (never from the command line, where `ps` shows
them), and the connection made with nats-py's own options."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import BadInput, RingscopeError

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["Credentials", "NatsTarget", "connect", "parse_url"]

SCHEMES = {"nats": 4222, "tls": 4222}
CONNECT_TIMEOUT = 2  # seconds per attempt: an unreachable server is said at once, retried after


@dataclass(frozen=True)
class Credentials:
    """Paths (or environment) holding the secrets; read when connecting."""

    creds_file: str | None = None  # a NATS .creds file (JWT + nkey seed)
    nkey_file: str | None = None  # an nkey seed file
    token_file: str | None = None  # a file whose first line is the token
    tls_ca: str | None = None  # CA bundle to verify the server with
    tls_cert: str | None = None  # client certificate (mutual TLS), with tls_key
    tls_key: str | None = None

    def check(self) -> None:
        """Every named file readable now (usage errors before anything starts)."""
        for opt, path in (("--nats-creds", self.creds_file), ("--nats-nkey", self.nkey_file),
                          ("--nats-token-file", self.token_file), ("--nats-ca", self.tls_ca),
                          ("--nats-cert", self.tls_cert), ("--nats-key", self.tls_key)):  # fmt: skip
            if path is not None and not os.access(path, os.R_OK):
                raise BadInput(f"{opt} {path}: not a readable file")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise BadInput("--nats-cert and --nats-key go together")


@dataclass(frozen=True)
class NatsTarget:
    """A checked nats:// (or tls://) URL and the credentials to use on it."""

    url: str
    tls: bool
    credentials: Credentials = Credentials()

    @property
    def shown(self) -> str:
        """The URL without any user info, for messages and /api/status."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port}"


def parse_url(text: str, option: str = "--export", credentials: Credentials | None = None) -> NatsTarget:
    """A nats://HOST[:PORT] URL, or BadInput saying what is wrong. User info
    in the URL is refused: secrets come from files (Credentials)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as e:
        raise BadInput(f"bad {option} URL {text[:100]!r}: {e}") from None
    if parts.scheme not in SCHEMES:
        raise BadInput(f"bad {option} URL {text[:100]!r}: expected nats://HOST:PORT")
    if not parts.hostname or any(c.isspace() for c in text.strip()):
        raise BadInput(f"bad {option} URL {text[:100]!r}: no host")
    if parts.username is not None or parts.password is not None:
        raise BadInput(f"bad {option} URL: no credentials in URLs (use --nats-creds, --nats-token-file)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise BadInput(f"bad {option} URL {text[:100]!r}: expected nats://HOST:PORT, nothing after")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    url = f"{parts.scheme}://{host}:{port or SCHEMES[parts.scheme]}"
    creds = credentials or Credentials()
    creds.check()
    return NatsTarget(url, parts.scheme == "tls" or creds.tls_ca is not None, creds)


def _tls_context(creds: Credentials) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=creds.tls_ca)
    if creds.tls_cert is not None and creds.tls_key is not None:
        ctx.load_cert_chain(creds.tls_cert, creds.tls_key)
    return ctx


def _options(target: NatsTarget) -> dict[str, Any]:
    creds = target.credentials
    opts: dict[str, Any] = {}
    if creds.creds_file is not None:
        opts["user_credentials"] = creds.creds_file
    if creds.nkey_file is not None:
        opts["nkeys_seed"] = creds.nkey_file
    if creds.token_file is not None:
        with open(creds.token_file, encoding="utf-8") as f:
            opts["token"] = f.readline().strip()
    if target.tls:
        opts["tls"] = _tls_context(creds)
    return opts


async def connect(target: NatsTarget, *, name: str, reconnect: bool = True) -> Client:
    """A connection to `target`. With `reconnect`, nats-py reconnects for
    ever once connected; the first connect fails with RingscopeError (one
    line) so the caller decides to retry or stop."""
    from nats.aio.client import Client
    from nats.errors import Error as NatsError

    seen: list[Exception] = []  # why attempts failed ("no servers" only says that they did)

    async def quiet(e: Exception) -> None:
        if len(seen) < 4:
            seen.append(e)  # logged by nobody: the caller says it once, in one line

    nc = Client()
    try:
        # The first connect must fail fast: nats-py retries a server until
        # max_reconnect_attempts, even a first connect (forever with -1).
        # Reconnecting is turned on once connected: nats-py reads its
        # options at each disconnection.
        await nc.connect(
            target.url, name=name, connect_timeout=CONNECT_TIMEOUT, allow_reconnect=False,
            max_reconnect_attempts=1, reconnect_time_wait=0, error_cb=quiet, pending_size=64 << 20,
            **_options(target),
        )  # fmt: skip
    except (OSError, ssl.SSLError, NatsError, TimeoutError, ValueError) as e:
        cause = seen[0] if seen else e
        await nc.close()
        raise RingscopeError(f"cannot connect to NATS at {target.shown}: {_why(cause)}") from None
    if reconnect:
        nc.options.update(allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
    return nc


def _why(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno is not None:
        return os.strerror(e.errno).lower()  # "connection refused", not asyncio's wording
    text = str(e).strip() or type(e).__name__
    if "authorization" in text.lower():
        return "authorization violation (check --nats-creds / --nats-token-file)"
    return text.splitlines()[0][:200]
