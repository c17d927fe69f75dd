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
    """A ``progress`` callback that draws one bar per stage on a text stream.

    On a terminal the bar redraws in place; elsewhere (a log file, CI) it writes one line per
    stage at 0%, every 25% and 100%, so logs stay short.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._stage: str | None = None
        self._quarter = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        fraction = 1.0 if total <= 0 else min(done, total) / total
        if stage != self._stage:
            if self._stage is not None and self.interactive:
                self.stream.write("\n")
            self._stage, self._quarter = stage, -1
        filled = int(self.width * fraction)
        line = f"{stage:<24} [{'#' * filled}{'-' * (self.width - filled)}] {done}/{total}"
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if done >= total else ""))
        elif int(fraction * 4) > self._quarter:
            self._quarter = int(fraction * 4)
            self.stream.write(line + "\n")
        if done >= total:
            self._stage = None
        self.stream.flush()
