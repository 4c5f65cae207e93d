"""Create the load's users through the registration service: `python -m faults.users COUNT < password`.

Prints them as JSON ({email, id}). Run with the fault suite's production environment; the
password comes on stdin so it never shows in a process list.
"""

import json
import os
import secrets
import sys

import django


def main() -> None:
    django.setup()
    from accounts import services

    count = int(sys.argv[1])
    password = sys.stdin.read().strip()
    run = secrets.token_hex(3)
    users = []
    for index in range(count):
        user = services.user_register(email=f"load{index}-{run}@faults.test", password=password)
        users.append({"email": user.email, "id": str(user.id)})
    json.dump(users, sys.stdout)


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    main()
