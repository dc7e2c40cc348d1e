"""The model of an incident is named Incident in the code, as everywhere else; its table and
the deliveries' column keep their names, so nothing in the database changes."""

import django.db.models.deletion
from django.db import migrations, models


def rename_content_type(apps, schema_editor, old="outage", new="incident"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="outages", model=old).update(model=new)


def restore_content_type(apps, schema_editor):
    rename_content_type(apps, schema_editor, old="incident", new="outage")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("outages", "0003_webhooks"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterModelTable(name="outage", table="outages_outage"),
                migrations.RenameModel(old_name="Outage", new_name="Incident"),
                migrations.AlterField(
                    model_name="incident",
                    name="service",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="incidents",
                        to="outages.service",
                    ),
                ),
                migrations.RenameField(
                    model_name="webhookdelivery", old_name="outage", new_name="incident"
                ),
                migrations.AlterField(
                    model_name="webhookdelivery",
                    name="incident",
                    field=models.ForeignKey(
                        db_column="outage_id",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="outages.incident",
                    ),
                ),
            ],
        ),
        migrations.RunPython(rename_content_type, restore_content_type),
    ]
