"""`ringscope` entry point: one module per subcommand, errors translated to
one line on stderr and an exit code here, at the boundary."""

from __future__ import annotations

import argparse
import contextlib
import errno
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from .. import __version__
from ..errors import RingscopeError, VerifierError
from ..inherited import note_inherited_fds
from .commands import COMMANDS

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


class UsageError(Exception):
    pass


def _command_module(name: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.{name}_cmd")


def _chosen(argv: Sequence[str]) -> str | None:
    """The subcommand argv names: its first word that is not an option
    (the global options take no value)."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


_GLOBAL_OPTIONS = ("-h", "--help", "-v", "--verbose", "--version")


def _unknown_global_option(argv: Sequence[str]) -> None:
    """An unknown option before the subcommand is the error to report, not
    the missing subcommand argparse would name first (`ringscope --bogus`)."""
    for word in argv:
        if not word.startswith("-") or word == "--":
            return
        if word not in _GLOBAL_OPTIONS:
            raise UsageError(f"unrecognized arguments: {word}")


def version_text() -> str:
    """The version, and per BPF object what it was built with."""
    from ..objects import built_objects, object_dir  # BTF and ELF parsing: only when asked

    arch, objects = built_objects()
    lines = [f"ringscope {__version__}"]
    if not objects:
        return "\n".join([*lines, f"BPF objects: none in {object_dir()} (run `make bpf`)"])
    lines.append(f"BPF objects for {arch or '?'} in {object_dir()} (build id, compiler, kernel types):")
    for o in objects:
        built = (
            f"{o.clang}; {o.vmlinux}" if o.clang else "not described by the build record (replaced since?)"
        )
        lines.append(f"  {o.name:<18} {o.build_id}  {built}")
    return "\n".join(lines)


class _VersionAction(argparse.Action):
    """--version, computed only when asked for (it hashes every object)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(version_text())
        parser.exit()


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. Given the arguments, only the subcommand they name is
    imported and registered in full (the others are one help line each):
    `ringscope report` does not pay for the tracing pipeline's imports.
    Without them, every subcommand is registered."""
    parser = _Parser(
        prog="ringscope", description="Linux perf/eBPF events over HTTP, with exact loss accounting."
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show libbpf and verifier logs on errors"
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        nargs=0,
        help="print the version and how the BPF objects were built",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    chosen = None if argv is None else _chosen(argv)
    for name, text in COMMANDS.items():
        if argv is None or name == chosen:
            _command_module(name).register(sub)
        else:
            sub.add_parser(name, help=text)
    return parser


def _error(message: object) -> None:
    """One line on stderr, whatever the user typed into the message: control
    characters (a newline, a carriage return, an escape sequence) and
    undecodable bytes are shown escaped, never obeyed."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in str(message))
    print(f"ringscope: error: {text}", file=sys.stderr)


# What a failed write to stdout raises (a full disk, /dev/full, a quota),
# as opposed to a reader that went away (EPIPE, a normal end for `| head`).
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Returns the exit code (also when called in-process)."""
    note_inherited_fds()  # before anything is opened: what `-- CMD` inherits
    try:
        code = _main(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # here, not at exit: a failed last write is seen
        return code
    except BrokenPipeError:
        # Reader went away (`| head`): not an error. Silence the flush at exit.
        sys.stderr.close()
        return 0
    except OSError as e:
        # A stream write (no file name) that failed: the output is not all
        # there, so say so and exit 1, whichever command printed it.
        if e.filename is not None or e.errno not in _WRITE_ERRNOS:
            raise
        _error(f"cannot write stdout: {e.strerror}")
        _drop_stdout()
        return 1


def _drop_stdout() -> None:
    """Forget what could not be written, so the flush at exit does not
    fail again with a second message."""
    with contextlib.suppress(OSError):
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (lives until exit)


def _main(args_list: list[str]) -> int:
    try:
        _unknown_global_option(args_list)
        args = build_parser(args_list).parse_args(args_list)
    except UsageError as e:
        _error(e)
        return EXIT_USAGE
    except SystemExit as e:  # --help
        return int(e.code or 0)
    try:
        return int(args.func(args))
    except RingscopeError as e:
        _error(e)
        if isinstance(e, VerifierError):
            if getattr(args, "verbose", False):
                print(e.log, file=sys.stderr)
            else:
                print("ringscope: (run with -v for the verifier log)", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
