"""The product's settings with bench.urls as the URL root, so the bare reference view is served
by exactly the same middleware, database and cache configuration as the product."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
