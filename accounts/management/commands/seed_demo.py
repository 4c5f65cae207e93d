"""Demo accounts and projects for a local try-out. Idempotent; refuses to run in production."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import roles, services
from accounts.models import User

# Demo credentials for a local database only (the command refuses production).
DEMO_USERS = [
    {"email": "admin@example.com", "name": "Ada Admin", "password": "demo-admin-passphrase", "role": roles.ADMIN},
    {"email": "alice@example.com", "name": "Alice", "password": "demo-alice-passphrase", "role": roles.EDITOR},
    {"email": "bob@example.com", "name": "Bob", "password": "demo-bob-passphrase", "role": roles.VIEWER},
    {"email": "carol@example.com", "name": "Carol", "password": "demo-carol-passphrase", "role": roles.VIEWER},
]
# (owner, name, description, {grantee: permissions})
DEMO_PROJECTS = [
    ("alice@example.com", "Apollo", "Shared with Bob, read-only.", {"bob@example.com": {"view"}}),
    ("alice@example.com", "Borealis", "Alice's private project.", {}),
]


class Command(BaseCommand):
    help = "Create the demo accounts and projects (once) and print how to use them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the API will be served.")

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        from api import services as api_services  # The api app builds on accounts, not the reverse.
        from api.selectors import ProjectAccess

        if settings.PRODUCTION:
            raise CommandError("seed_demo creates accounts with published passwords: not in production.")
        created = 0
        for spec in DEMO_USERS:
            if User.objects.filter(email=spec["email"]).exists():
                continue
            # actor=None: the operator on the host. The demo admin is also a superuser, so that
            # every admin page (roles, raw permissions) can be tried out.
            services.user_create(
                email=spec["email"],
                password=spec["password"],
                display_name=spec["name"],
                roles=[spec["role"]],
                is_superuser=spec["role"] == roles.ADMIN,
                actor=None,
            )
            created += 1
        for owner_email, name, description, grants in DEMO_PROJECTS:
            owner = User.objects.get(email=owner_email)
            if owner.owned_projects.filter(name=name).exists():
                continue
            project = api_services.project_create(owner=owner, name=name, description=description)
            for email, permissions in grants.items():
                api_services.project_share_with_user(
                    access=ProjectAccess(owner),
                    project=project,
                    user=User.objects.get(email=email),
                    permissions=permissions,
                )
        base = options["base_url"].rstrip("/")
        self.stdout.write(
            "\n".join(
                [
                    f"Demo data: {created} account(s) created, {len(DEMO_USERS) - created} already there.",
                    f"  API root     {base}/api/v1/",
                    f"  API docs     {base}/api/v1/docs/",
                    f"  Admin        {base}/admin/",
                    "Demo accounts (email / password / role):",
                    *(f"  {u['email']:<20} {u['password']:<24} {u['role']}" for u in DEMO_USERS),
                ]
            )
        )
