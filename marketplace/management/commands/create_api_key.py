"""``manage.py create_api_key <username> <name> [--scope rounds:write]``: mint an API key.

The key is printed once and never stored in clear; keep it somewhere safe. This is how staff give
a partner a key that may create and start rounds.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from marketplace.models import ApiKey, User


class Command(BaseCommand):
    help = "Create an API key for a user and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", help="The user the key acts as.")
        parser.add_argument("name", help="What the key is for, e.g. 'nightly job'.")
        parser.add_argument(
            "--scope",
            action="append",
            default=[],
            choices=ApiKey.SCOPES,
            help="Grant a scope (repeatable); rounds:write lets a partner create/start rounds.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            owner = User.objects.get(username=options["username"])
        except User.DoesNotExist as error:
            raise CommandError(f"no user named {options['username']!r}.") from error
        if not owner.is_active:
            raise CommandError(f"user {owner.username!r} is inactive.")
        try:
            key, plaintext = ApiKey.create(owner, options["name"], options["scope"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        scopes = ", ".join(key.scopes) or "none (read as the owner)"
        self.stdout.write(f"API key {key.prefix} for {owner.username}; scopes: {scopes}")
        self.stdout.write("Shown only this once; send it as 'Authorization: Api-Key <key>':")
        self.stdout.write(plaintext)
