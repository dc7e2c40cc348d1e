"""Print an API token for a fresh batch-partner user (run with the bench settings)."""

import django


def main() -> None:
    django.setup()
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    user, _ = User.objects.get_or_create(username="bench-partner")
    token, _ = Token.objects.get_or_create(user=user)
    print(user.pk, token.key)


if __name__ == "__main__":
    main()
