import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# After Django is set up: the middleware reads the body caps from the settings.
from reports.middleware import ChunkedBodyMiddleware  # noqa: E402
from web.front import PageFront  # noqa: E402

# The page front first: a kept public page needs neither the body fix nor Django.
application = PageFront(ChunkedBodyMiddleware(django_application))
