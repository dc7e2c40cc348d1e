from django.db import migrations, models


def unlogged(apps, schema_editor):  # type: ignore[no-untyped-def]
    # Claims are rebuilt by traffic within one dedupe window and a repeat is still caught by
    # the stored reports, so they need no WAL: a crash empties the table, nothing else does.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE reports_claim SET UNLOGGED")


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_report_received_at")]

    operations = [
        migrations.CreateModel(
            name="Claim",
            fields=[
                ("key", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("count", models.IntegerField()),
                ("expires", models.FloatField()),
            ],
        ),
        migrations.RunPython(unlogged, migrations.RunPython.noop),
    ]
