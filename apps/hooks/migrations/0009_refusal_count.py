"""RejectedDeliveries becomes RefusalCount (a model is named in the singular).

Django renames the table and the content type but not the permissions, which the roles hold: their
codenames are renamed in place, so every role keeps seeing the counts.
"""

from django.db import migrations

RENAMES = [(f"{verb}_rejecteddeliveries", f"{verb}_refusalcount") for verb in ("add", "change", "delete", "view")]


def rename_permissions(apps, schema_editor, *, backwards=False):
    Permission = apps.get_model("auth", "Permission")
    for old, new in RENAMES:
        if backwards:
            old, new = new, old
        Permission.objects.filter(content_type__app_label="hooks", codename=old).update(
            codename=new, name=f"Can {new.split('_')[0]} refusal count"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("hooks", "0008_refused_delivery_roles"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RenameModel(old_name="RejectedDeliveries", new_name="RefusalCount"),
        migrations.RunPython(
            rename_permissions,
            lambda apps, schema_editor: rename_permissions(apps, schema_editor, backwards=True),
        ),
    ]
