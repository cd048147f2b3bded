"""Grant the roles (created by the postmortems app) their timeline permissions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "viewer": ["view"],
    "author": ["view", "add", "change", "delete"],
    "reviewer": ["view", "add", "change", "delete"],
    "admin": ["view", "add", "change", "delete"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("timeline")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, actions in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="timeline",
                codename__in=[f"{a}_timelineevent" for a in actions],
            )
        )


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="timeline"))


class Migration(migrations.Migration):
    dependencies = [
        ("timeline", "0001_timeline_events"),
        ("postmortems", "0003_create_roles"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
