import base64

from django.core.management.base import BaseCommand
from py_vapid import Vapid


class Command(BaseCommand):
    help = "Print a new VAPID key for browser push, as VAPID_PRIVATE_KEY holds it."

    def handle(self, *args: object, **options: object) -> None:
        key = Vapid()
        key.generate_keys()
        raw = key.private_key.private_numbers().private_value.to_bytes(32, "big")
        self.stdout.write(base64.urlsafe_b64encode(raw).rstrip(b"=").decode())
