"""Python half of bpf/net.bpf.c: connect, accept."""

from __future__ import annotations

import ipaddress
import socket

from .spec import EventSpec, Row

_FAMILIES = {socket.AF_INET: "AF_INET", socket.AF_INET6: "AF_INET6", socket.AF_UNIX: "AF_UNIX"}


def _sock(rows: list[Row]) -> None:
    for r in rows:
        raw: bytes = bytes(r["addr"])
        fam = r["family"]
        if fam == socket.AF_INET:
            r["addr"] = str(ipaddress.IPv4Address(raw[:4]))
        elif fam == socket.AF_INET6:
            r["addr"] = str(ipaddress.IPv6Address(raw))
        else:  # AF_UNIX paths and other families are not captured
            r["addr"] = None
            r["port"] = None
        r["family"] = _FAMILIES.get(fam, str(fam))


SPECS = (
    EventSpec("connect", "net",
              ("handle_connect_enter", "handle_connect_exit"),
              "rs_sock", "RS_EV_CONNECT", "connect(2): family, address, port, return value", _sock),
    EventSpec("accept", "net",
              ("handle_accept_enter", "handle_accept_exit", "handle_accept4_enter", "handle_accept4_exit"),
              "rs_sock", "RS_EV_ACCEPT", "accept(2)/accept4(2): peer family, address, port, fd", _sock),
)  # fmt: skip
