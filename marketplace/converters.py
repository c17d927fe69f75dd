"""URL converters. ``<id:name>`` matches a database id: digits whose value fits the 64-bit
signed integer columns ids live in (1 to 2**63 - 1).

Django's ``<int:…>`` accepts any number of digits, and a lookup with a value past 2**63 - 1 fails
inside the database driver (an ``OverflowError`` on SQLite: a 500). Such a path names no object,
so the converter refuses to match it and the request gets the ordinary 404.

Importing this module registers the converter; URL modules that use ``<id:…>`` import it.
"""

from __future__ import annotations

from django.urls import register_converter

MAX_ID = 2**63 - 1


class DatabaseIdConverter:
    """A positive id that fits a ``BigAutoField``; anything larger does not match (404)."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_ID:
            raise ValueError(f"{value} is not a database id")  # Django: no match, try the next
        return number

    def to_url(self, value: int) -> str:
        return str(int(value))


register_converter(DatabaseIdConverter, "id")
