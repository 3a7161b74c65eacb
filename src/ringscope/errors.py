"""The exception tree. Library code raises these; the CLI and the server
translate them at one boundary (exit code + one line, or a JSON 4xx/5xx)."""

from __future__ import annotations

import errno as _errno
import os

from . import caps

__all__ = [
    "AttachError",
    "BadInput",
    "LoadError",
    "NotSupported",
    "PermissionDenied",
    "RingscopeError",
    "VerifierError",
    "error_from_errno",
    "require_caps",
]


class RingscopeError(Exception):
    """Base of every error ringscope raises on purpose. Exit code 1."""

    exit_code = 1


class BadInput(RingscopeError):
    """The user asked for something malformed or unknown. Exit code 2."""

    exit_code = 2


class NotSupported(RingscopeError):
    """This kernel or machine lacks the feature (perf's `<not supported>`)."""


class PermissionDenied(RingscopeError):
    """The operation needs privileges we do not have (root, CAP_BPF, CAP_PERFMON)."""


class LoadError(RingscopeError):
    """A BPF object could not be opened or loaded."""


class VerifierError(LoadError):
    """The kernel verifier rejected a program. `log` keeps the verifier log."""

    def __init__(self, message: str, log: str) -> None:
        super().__init__(message)
        self.log = log


class AttachError(RingscopeError):
    """A loaded program could not be attached to its hook."""


def error_from_errno(what: str, err: int, log: str = "") -> RingscopeError:
    """Map an errno from a kernel operation to the matching error class."""
    text = f"{what}: {os.strerror(err)}"
    if err in (_errno.EPERM, _errno.EACCES):
        if caps.has(*caps.TRACING):
            # Refused with the capabilities that should do: lockdown, or a
            # feature the kernel lacks (fentry without BPF trampolines
            # fails this way).
            return NotSupported(
                f"{text} (refused even with CAP_BPF and CAP_PERFMON: kernel lockdown or a missing feature)"
            )
        return PermissionDenied(f"{text} (needs CAP_BPF and CAP_PERFMON)")
    if err in (_errno.EOPNOTSUPP, _errno.ENOTSUP, _errno.ENOSYS, _errno.ENODEV):
        return NotSupported(f"{text} (not supported by this kernel)")
    if err == _errno.ENOENT and "attach" in what:
        return NotSupported(f"{text} (no such hook on this kernel)")
    return LoadError(text)


def require_caps(what: str, *needed: int) -> None:
    """PermissionDenied naming every capability of `needed` this process
    lacks (effective set), and how to grant them."""
    lacking = caps.missing(*needed)
    if lacking:
        names = " and ".join(caps.name(c) for c in lacking)
        raise PermissionDenied(f"{what} needs {names} (run as root, or grant {names} to the process)")
