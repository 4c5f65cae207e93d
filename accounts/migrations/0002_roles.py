"""Create the roles (viewer, editor, admin) as groups with their model permissions."""

from django.db import migrations

# A copy of accounts.roles.ROLE_PERMISSIONS as it stood when this migration was written.
ROLE_PERMISSIONS = {
    "viewer": [],
    "editor": ["api.add_project"],
    "admin": [
        "api.add_project",
        "api.view_project",
        "api.change_project",
        "api.delete_project",
        "api.share_project",
        "api.view_document",
        "api.add_document",
        "api.change_document",
        "api.delete_document",
        "accounts.view_user",
        "accounts.change_user",
        "auth.view_group",
    ],
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; roles need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for label in perms:
            app_label, codename = label.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("api", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
