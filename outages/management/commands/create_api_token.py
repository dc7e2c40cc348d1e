from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandParser
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create (or show) the API token of a partner account, creating the account if needed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="account name, e.g. the partner's organisation")

    def handle(self, *args: Any, **options: Any) -> None:
        user, created = User.objects.get_or_create(username=options["name"])
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
