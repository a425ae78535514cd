"""Create the admin login `make run` prints; the password comes from ADMIN_PASSWORD or is generated."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the superuser ADMIN_USERNAME (default admin) if missing, with ADMIN_PASSWORD or a generated "
        "password; set ADMIN_PASSWORD on an existing one. Prints one line: the login to use."
    )

    def handle(self, *args, **options):
        username = settings.ADMIN_USERNAME
        wanted = settings.ADMIN_PASSWORD
        users = get_user_model().objects
        user = users.filter(username=username).first()
        if user is None:
            password = wanted or secrets.token_urlsafe(12)
            users.create_superuser(username=username, email="", password=password)
            how = (
                "from ADMIN_PASSWORD"
                if wanted
                else "generated, shown this once: note it or set ADMIN_PASSWORD"
            )
            self.stdout.write(f"{username} / {password}  ({how})")
        elif wanted:
            # The password asked for is the one that works, also for a login made by an earlier run.
            if not user.check_password(wanted):
                user.set_password(wanted)
                user.save(update_fields=["password"])
            self.stdout.write(f"{username} / {wanted}  (from ADMIN_PASSWORD)")
        else:
            self.stdout.write(
                f"{username} (password unchanged, as first shown; forgotten? "
                f"manage.py changepassword {username})"
            )
