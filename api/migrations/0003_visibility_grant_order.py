"""Grants carry their project's created_at, indexed in list order (issue 10: visibility flat).

Added nullable, filled from the projects, then made required: existing databases keep every grant.
"""

import api.models
from django.db import migrations, models


def copy_created_at(apps, schema_editor):
    Project = apps.get_model("api", "Project")
    for name in ("ProjectUserObjectPermission", "ProjectGroupObjectPermission"):
        grants = apps.get_model("api", name)
        created_at = Project.objects.filter(pk=models.OuterRef("content_object_id")).values("created_at")
        grants.objects.update(project_created_at=models.Subquery(created_at))


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0002_shareable_group"),
    ]

    operations = [
        migrations.AddField(
            model_name="projectuserobjectpermission",
            name="project_created_at",
            field=api.models.ProjectCreatedAt(null=True),
        ),
        migrations.AddField(
            model_name="projectgroupobjectpermission",
            name="project_created_at",
            field=api.models.ProjectCreatedAt(null=True),
        ),
        migrations.RunPython(copy_created_at, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="projectuserobjectpermission",
            name="project_created_at",
            field=api.models.ProjectCreatedAt(),
        ),
        migrations.AlterField(
            model_name="projectgroupobjectpermission",
            name="project_created_at",
            field=api.models.ProjectCreatedAt(),
        ),
        migrations.AddIndex(
            model_name="projectuserobjectpermission",
            index=models.Index(
                fields=["user", "permission", "project_created_at", "content_object"], name="api_user_grant_order"
            ),
        ),
        migrations.AddIndex(
            model_name="projectgroupobjectpermission",
            index=models.Index(
                fields=["group", "permission", "project_created_at", "content_object"], name="api_group_grant_order"
            ),
        ),
    ]
