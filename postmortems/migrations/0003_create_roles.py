"""Create the four roles as groups. Timeline permissions are granted by the timeline app."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    "incident",
    "incidentvendor",
    "vendor",
    "service",
    "changetype",
    "failurecategory",
    "factor",
    "actionitem",
    "source",
]
WRITE = ["incident", "incidentvendor", "vendor", "service", "factor", "actionitem", "source"]
REMOVE_PARTS = ["incidentvendor", "factor", "actionitem", "source"]

ROLE_PERMISSIONS = {
    "viewer": [f"view_{m}" for m in VIEW],
    "author": [f"view_{m}" for m in VIEW]
    + [f"{a}_{m}" for m in WRITE for a in ("add", "change")]
    + [f"delete_{m}" for m in REMOVE_PARTS],
    "reviewer": [f"view_{m}" for m in VIEW]
    + [f"{a}_{m}" for m in WRITE for a in ("add", "change")]
    + [f"delete_{m}" for m in REMOVE_PARTS]
    + ["review_incident"],
    "admin": None,  # every permission of the app
}


def ensure_permissions(apps):
    # Permissions are normally created after migrate; a data migration that
    # grants them must create them itself.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def create_roles(apps, schema_editor):
    ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    app_permissions = Permission.objects.filter(content_type__app_label="postmortems")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        chosen = (
            app_permissions if codenames is None else app_permissions.filter(codename__in=codenames)
        )
        group.permissions.add(*chosen)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("postmortems", "0002_seed_taxonomy"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
