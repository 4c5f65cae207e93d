"""User.email_skeleton: the digest of each email's confusables skeleton, UNIQUE.

Existing emails are renormalised (NFKC + case fold, accounts/emails.py) and their skeletons
filled in. Two existing accounts that normalise to one email, or whose emails look alike, cannot
both keep theirs: the migration stops and names them, so an operator decides which one to
rename (docs/security-model.md#emails); it never renames an account by itself.
"""

from django.db import migrations, models

from accounts.emails import normalize_email, skeleton_digest


def backfill(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    seen: dict[str, str] = {}
    clashes = []
    users = list(User.objects.only("pk", "email").order_by("date_joined", "pk"))
    for user in users:
        email = normalize_email(user.email)
        digest = skeleton_digest(email)
        if digest in seen:
            clashes.append(f"{user.email!r} looks like {seen[digest]!r}")
            continue
        seen[digest] = user.email
        user.email = email
        user.email_skeleton = digest
    if clashes:
        raise RuntimeError(
            "Accounts whose emails look alike cannot all keep them: "
            + "; ".join(clashes)
            + ". Change one email of each pair (manage.py shell), then migrate again."
        )
    User.objects.bulk_update(users, ["email", "email_skeleton"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_project_events"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_skeleton",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="user",
            name="email_skeleton",
            field=models.CharField(
                editable=False,
                help_text="SHA-256 of the email's confusables skeleton (accounts/emails.py): no two accounts look alike.",
                max_length=64,
                unique=True,
            ),
        ),
    ]
