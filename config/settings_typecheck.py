"""The settings that mypy's Django plugin imports: the product's own, in the development mode.
Type checking starts nothing and has no SECRET_KEY, which config/settings.py requires outside
DEV_MODE."""

import os

os.environ["DEV_MODE"] = "true"

from config.settings import *  # noqa: E402, F403
