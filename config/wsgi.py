import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# After Django is set up: the middleware reads the body caps from the settings.
from reports.middleware import ChunkedBodyMiddleware  # noqa: E402

application = ChunkedBodyMiddleware(django_application)
