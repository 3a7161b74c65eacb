"""Python half of bpf/net.bpf.c: connect, accept."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..events.spec import Columns, EventSpec, LoadOptions, Lookup, Row, array
from .syscalls import syscall_rodata

if TYPE_CHECKING:
    from .._libbpf import BpfObject

_FAMILIES: dict[int, str] = {
    socket.AF_INET: "AF_INET",
    socket.AF_INET6: "AF_INET6",
    socket.AF_UNIX: "AF_UNIX",
}


def _family_name(fam: int) -> str:
    return _FAMILIES.get(fam, str(fam))


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
        r["family"] = _family_name(fam)


def _sock_columns(cols: Columns) -> None:
    fam = array(cols, "family")
    v4, v6 = fam == socket.AF_INET, fam == socket.AF_INET6
    # One key per distinct address: the bytes that count for its family
    # (IPv4: the first 4), tagged 1 for IPv4, 2 for IPv6, 0 for none.
    key = np.ascontiguousarray(array(cols, "addr"), dtype=np.uint8) * v6[:, None]
    key[v4, :4] = array(cols, "addr")[v4, :4]
    key = np.concatenate([(v4 + 2 * v6).astype(np.uint8)[:, None], key], axis=1)
    # As one 17-byte item per row: np.unique(axis=0) is ~40x slower.
    uniq, codes = np.unique(key.view("V17")[:, 0], return_inverse=True)
    cols["addr"] = Lookup(codes.reshape(-1), [_addr(k[1:], k[0]) for k in map(bytes, uniq)])
    if not bool((v4 | v6).all()):
        port = np.where(v4 | v6, array(cols, "port").astype(np.int32), -1)
        cols["port"] = Lookup.map(port, lambda p: None if p < 0 else p)
    cols["family"] = Lookup.map(fam, _family_name)


def _addr(raw: bytes, tag: int) -> str | None:
    if tag == 1:
        return str(ipaddress.IPv4Address(raw[:4]))
    if tag == 2:
        return str(ipaddress.IPv6Address(raw))
    return None


@dataclass(frozen=True)
class SockSpec(EventSpec):
    def configure(self, obj: BpfObject, tag: int, opts: LoadOptions) -> None:
        obj.set_rodata(**syscall_rodata(("connect", "accept", "accept4")))


_BTF_PROGRAMS = ("handle_net_sys_enter", "handle_net_sys_exit")
SPECS = (
    SockSpec("connect", "net",
             ("handle_connect_enter", "handle_connect_exit"),
             "rs_sock", "RS_EV_CONNECT", "connect(2): family, address, port, return value", _sock,
             finish_columns=_sock_columns, btf_programs=_BTF_PROGRAMS),
    SockSpec("accept", "net",
             ("handle_accept_enter", "handle_accept_exit", "handle_accept4_enter", "handle_accept4_exit"),
             "rs_sock", "RS_EV_ACCEPT", "accept(2)/accept4(2): peer family, address, port, fd", _sock,
             finish_columns=_sock_columns, btf_programs=_BTF_PROGRAMS),
)  # fmt: skip
