import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# After Django is set up: the middleware reads the body caps from the settings.
from reports.middleware import ChunkedBodyMiddleware  # noqa: E402
from web.front import PageFront  # noqa: E402
from web.intake import IntakeFront  # noqa: E402

# The fronts first: a kept public page, and a single report of the common case, need neither
# the body fix nor Django's handler.
application = PageFront(IntakeFront(ChunkedBodyMiddleware(django_application)))
