"""Demo accounts for a local try-out. Idempotent; refuses to run in production."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User

# Demo credentials for a local SQLite database only (the command refuses production).
DEMO_USERS = [
    {
        "email": "admin@example.com",
        "display_name": "Ada Admin",
        "password": "demo-admin-passphrase",
        "admin": True,
    },
    {"email": "alice@example.com", "display_name": "Alice", "password": "demo-alice-passphrase"},
    {"email": "bob@example.com", "display_name": "Bob", "password": "demo-bob-passphrase"},
    {"email": "carol@example.com", "display_name": "Carol", "password": "demo-carol-passphrase"},
]


class Command(BaseCommand):
    help = "Create the demo accounts (once) and print how to use them."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        if settings.PRODUCTION:
            raise CommandError("seed_demo creates accounts with published passwords: not in production.")
        created = 0
        for spec in DEMO_USERS:
            if User.objects.filter(email=spec["email"]).exists():
                continue
            if spec.get("admin"):
                User.objects.create_superuser(
                    email=spec["email"], password=spec["password"], display_name=spec["display_name"]
                )
            else:
                User.objects.create_user(
                    email=spec["email"], password=spec["password"], display_name=spec["display_name"]
                )
            created += 1
        base = "http://127.0.0.1:8000"
        self.stdout.write(
            "\n".join(
                [
                    f"Demo data: {created} account(s) created, {len(DEMO_USERS) - created} already there.",
                    f"  API root     {base}/api/v1/",
                    f"  API docs     {base}/api/v1/docs/",
                    f"  Admin        {base}/admin/",
                    "Demo accounts (email / password):",
                    *(f"  {u['email']:<20} {u['password']}" for u in DEMO_USERS),
                ]
            )
        )
