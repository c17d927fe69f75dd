"""The progress callback every long-running engine step accepts."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as work advances; ``done == total`` at the end."""


def report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    """Call ``progress`` if one was given."""
    if progress is not None:
        progress(stage, done, total)


class TerminalProgress:
    """A ``progress`` callback that draws one self-overwriting bar per stage on a text stream."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self._stage: str | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage and self._stage is not None:
            self.stream.write("\n")
        self._stage = stage
        filled = self.width if total <= 0 else int(self.width * min(done, total) / total)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{stage:<18} [{bar}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
            self._stage = None
        self.stream.flush()
