import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from mediaspace.models import UserRole
from mediaspace.roles import Role


class Command(BaseCommand):
    help = "Create a first administrator account when there is none, and say how to sign in."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, username, url, **options):
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        UserRole.objects.update_or_create(user=user, defaults={"role": Role.UNMODERATED_ADMIN})
        self.stdout.write(self.style.SUCCESS(
            f"\nCreated the first administrator. Sign in at {url}login/ as '{username}' with the password "
            f"{password}\n(shown only now; change it with `.venv/bin/python manage.py changepassword {username}`).\n"
        ))
