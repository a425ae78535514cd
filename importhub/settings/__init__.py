"""Settings entry point: `DJANGO_ENV` picks the profile (development by default, or production)."""

import os

if os.environ.get("DJANGO_ENV", "development") == "production":
    from .production import *  # noqa: F403
else:
    from .base import *  # noqa: F403
