"""`Closing`: the one context-manager rule for everything that owns a
kernel object, a file or a child process: `with` ends in close(), whatever
happened inside. close() must be idempotent, since callers may also call it."""

from __future__ import annotations

from typing import Self


class Closing:
    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
