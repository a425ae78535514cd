"""WSGI entry point (gunicorn importhub.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "importhub.settings")
application = get_wsgi_application()
