"""Create the admin login once; the password comes from ADMIN_PASSWORD or is generated and printed."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser 'admin' (ADMIN_USERNAME) if missing; print its password once."

    def handle(self, *args, **options):
        username = os.environ.get("ADMIN_USERNAME", "admin")
        users = get_user_model().objects
        if users.filter(username=username).exists():
            self.stdout.write(f"Admin login: {username} (exists; password unchanged)")
            return
        password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.create_superuser(username=username, email="", password=password)
        self.stdout.write(self.style.SUCCESS(f"Admin login created: {username} / {password}"))
        if not os.environ.get("ADMIN_PASSWORD"):
            self.stdout.write("This password is shown once: note it, or set ADMIN_PASSWORD next time.")
