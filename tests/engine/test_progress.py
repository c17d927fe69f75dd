"""TerminalProgress: short logs off a terminal, in-place bars on one."""

from __future__ import annotations

import io

from attribution.engine.progress import TerminalProgress, report


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_one_line_per_quarter() -> None:
    stream = io.StringIO()
    progress = TerminalProgress(stream)
    for done in range(101):
        progress("generate", done, 100)
    lines = stream.getvalue().splitlines()
    assert [line.split()[-1] for line in lines] == [
        "0/100",
        "25/100",
        "50/100",
        "75/100",
        "100/100",
    ]


def test_a_terminal_redraws_in_place_and_ends_the_line() -> None:
    stream = _Terminal()
    progress = TerminalProgress(stream, width=10)
    progress("fit", 1, 2)
    progress("fit", 2, 2)
    assert stream.getvalue().count("\r") == 2
    assert stream.getvalue().endswith("[##########] 2/2\n")


def test_report_without_a_callback_does_nothing() -> None:
    report(None, "stage", 1, 1)
